"""The Typer apps, the options of ``lookalike`` itself, and ``main``: how errors end the
command (usage errors exit 2 with the usage line, core errors with their own code)."""

from __future__ import annotations

import os
import re
import sys
import warnings
from typing import Annotated, NoReturn, TextIO

import typer

from lookalike.cli.output import err, out
from lookalike.errors import LookalikeError, StoreUnavailable

app = typer.Typer(
    help="lookalike: self-hosted visual search. Index images, then search them by image, "
    "text or id.",
    no_args_is_help=True,
)
collections_app = typer.Typer(help="List, create, show and drop collections.", no_args_is_help=True)
models_app = typer.Typer(
    help="Semantic models: list them, download one for offline use.", no_args_is_help=True
)
people_app = typer.Typer(
    help="People: group the faces of a collection, name, merge and split people.",
    no_args_is_help=True,
)
app.add_typer(collections_app, name="collections")
app.add_typer(models_app, name="models")
app.add_typer(people_app, name="people")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("lookalike")
        except PackageNotFoundError:  # run from a source tree that was never installed
            number = "unknown"
        out.print(f"lookalike {number}", markup=False)
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_version,
            is_eager=True,
            expose_value=True,
            help="Print the version and exit.",
        ),
    ] = False,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Where collections live for this command: edge, http(s)://HOST:6333 or "
            "qdrant-local:PATH (the store setting).",
        ),
    ] = None,
) -> None:
    """Options of ``lookalike`` itself (the help text is the app's)."""
    if store is not None:  # read by every Settings.load of this command
        os.environ["LOOKALIKE_STORE"] = store


def _show_usage_error(exc: typer.TyperException) -> None:
    show = getattr(exc, "show", None)
    if callable(show):  # the usage line, the hint to --help, then the error
        show()
    else:
        err.print(f"Error: {exc.format_message()}", markup=False, soft_wrap=True)


PILLOW_NOISE = ("Corrupt EXIF data", "Image size (")
"""Starts of the warnings Pillow gives for images lookalike indexes anyway: a broken EXIF block
(the image decodes; its EXIF is dropped) and its own decompression-bomb warning (lookalike
enforces ``max_pixels`` itself)."""


def _quiet_warnings() -> None:
    """Pillow's noise out of the terminal, in this process and in the decode workers it spawns
    (they read ``PYTHONWARNINGS``); any other warning as one ``warning:`` line."""
    for start in PILLOW_NOISE:
        warnings.filterwarnings("ignore", message=re.escape(start))
    extra = ",".join(f"ignore:{start}" for start in PILLOW_NOISE)
    inherited = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = f"{inherited},{extra}" if inherited else extra

    def one_line(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        err.print(f"warning: {category.__name__}: {message}", markup=False, soft_wrap=True)

    warnings.showwarning = one_line


def file_error(exc: OSError) -> StoreUnavailable:
    """A file or folder the command could not use (the data folder read-only or not a folder,
    a lock file it may not open, a store path that cannot be made) as one line naming it, not
    a traceback: the store, not the command, is at fault."""
    where = f"cannot use {exc.filename}: " if exc.filename else ""
    return StoreUnavailable(f"{where}{exc.strerror or exc}", detail={"path": exc.filename})


def _fail(exc: LookalikeError) -> NoReturn:
    err.print(f"error: {exc.message}", markup=False, soft_wrap=True)
    sys.exit(exc.exit_code)


def main() -> None:
    """The ``lookalike`` command: usage errors exit 2 with the usage line, core errors exit with
    their code in one line, Ctrl-C exits 130."""
    _quiet_warnings()
    try:
        # Without standalone mode, Typer returns the exit code of typer.Exit and of Ctrl-C (130).
        code = app(standalone_mode=False)
    except LookalikeError as exc:
        _fail(exc)
    except OSError as exc:
        _fail(file_error(exc))
    except (typer.Abort, KeyboardInterrupt):
        code = 130
    except typer.TyperException as exc:
        # Typer's own (bundled) click raises these: usage errors, bad parameters, no arguments.
        _show_usage_error(exc)
        sys.exit(exc.exit_code)
    if code == 130:
        err.print("interrupted: everything reported as indexed is kept; rerun to resume")
    sys.exit(code if isinstance(code, int) else 0)
