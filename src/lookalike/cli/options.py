"""The options several commands share, spelled once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Where collections live (default: LOOKALIKE_DATA_DIR, else the platform's user "
        "data folder).",
    ),
]
"""The flag only: the settings read ``LOOKALIKE_DATA_DIR`` themselves, so that ``lookalike
config`` names the environment, not the flag, as where the value came from."""
CollectionName = Annotated[str, typer.Option("--collection", "-c", help="Collection to use.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
OnUnsafeOption = Annotated[
    str | None,
    typer.Option(
        "--on-unsafe",
        help="For a new collection with the moderation signal: allow, flag (list them in the "
        "report) or reject images found unsafe.",
    ),
]
PrecisionOption = Annotated[
    str | None,
    typer.Option(
        "--precision",
        help="For a new collection: fp32, or int8 (the semantic model's quantized copy, faster "
        "on CPU; check its accuracy on your data with lookalike eval). Default: the "
        "default_precision setting.",
    ),
]
ServerUrl = Annotated[
    str | None,
    typer.Option(
        "--server",
        help="Send the command to this lookalike server (default: LOOKALIKE_SERVER, or the "
        "server running on the data folder).",
    ),
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")]


def output_file(value: Path | None) -> Path | None:
    """Refuse, before any work is done, a file the command could not write at its end: a
    folder (an empty name is the current one), or a file in a folder that is not there."""
    if value is None:
        return None
    if value.is_dir():
        raise typer.BadParameter(f"{value} is a folder: give the file to write")
    parent = value.parent
    if not parent.is_dir():
        problem = "is not a folder" if parent.exists() else "does not exist"
        raise typer.BadParameter(f"the folder {parent} of {value} {problem}")
    return value
