"""The Typer apps, the options of ``lookalike`` itself, and ``main``: how errors end the
command (usage errors exit 2 with the usage line, core errors with their own code)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from lookalike.cli.output import err, out
from lookalike.errors import LookalikeError

app = typer.Typer(
    help="lookalike: self-hosted visual search. Index images, then search them by image, "
    "text or id.",
    no_args_is_help=True,
    add_completion=False,
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
) -> None:
    """Options of ``lookalike`` itself (the help text is the app's)."""


def _show_usage_error(exc: typer.TyperException) -> None:
    show = getattr(exc, "show", None)
    if callable(show):  # the usage line, the hint to --help, then the error
        show()
    else:
        err.print(f"Error: {exc.format_message()}", markup=False, soft_wrap=True)


def main() -> None:
    """The ``lookalike`` command: usage errors exit 2 with the usage line, core errors exit with
    their code in one line, Ctrl-C exits 130."""
    try:
        # Without standalone mode, Typer returns the exit code of typer.Exit and of Ctrl-C (130).
        code = app(standalone_mode=False)
    except LookalikeError as exc:
        err.print(f"error: {exc.message}", markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        code = 130
    except typer.TyperException as exc:
        # Typer's own (bundled) click raises these: usage errors, bad parameters, no arguments.
        _show_usage_error(exc)
        sys.exit(exc.exit_code)
    if code == 130:
        err.print("interrupted: everything reported as indexed is kept; rerun to resume")
    sys.exit(code if isinstance(code, int) else 0)
