"""The package's version, on the ground floor so that any module may name it (a backup's
manifest, the API's health answer) without importing the package's front door."""

__version__ = "0.1.0"
