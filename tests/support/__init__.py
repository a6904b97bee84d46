"""Test helpers: models and samples that the suite builds itself, offline."""
