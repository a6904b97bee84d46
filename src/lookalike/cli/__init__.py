"""The command line: parse, call one core method, format. No logic of its own.

Each module registers its commands on the apps of :mod:`lookalike.cli.app`; they are imported
here in the order ``--help`` lists them."""

# isort: off
from lookalike.cli import (  # noqa: F401  # registers the commands
    index,
    search,
    duplicates,
    moderate,
    records,
    serve,
    collections,
    reindex,
    models,
    people,
    config,
    migrate,
    backup,
    evaluate,
)

# isort: on
from lookalike.cli.app import app, main

__all__ = ["app", "main"]
