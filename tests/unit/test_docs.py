"""The user docs name every setting, every option of the main commands, every error and model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

import lookalike.cli
import lookalike.errors
from lookalike.config import Settings
from lookalike.models.specs import MODELS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _doc(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def _options(command: str, known: str = "--collection") -> list[str]:
    """Every spelling of every option of ``lookalike <command>``: ``--x``, ``-x``, ``--no-x``;
    ``known`` is one of them, to tell that they were found.

    Duck-typed on purpose: Typer may bring its own copy of Click, whose classes differ.
    """
    group = typer.main.get_command(lookalike.cli.app)
    cmd = group.commands[command]  # type: ignore[attr-defined]
    found = [
        opt
        for param in cmd.params
        if param.param_type_name == "option"
        for opt in (*param.opts, *param.secondary_opts)
    ]
    assert known in found, f"options of {command} not found: {found}"
    return found


def _mentioned(text: str, option: str) -> bool:
    return re.search(rf"`{re.escape(option)}(?![\w-])", text) is not None


@pytest.mark.parametrize("field", list(Settings.model_fields))
def test_every_setting_is_documented_with_its_env_var(field: str) -> None:
    text = _doc("configuration.md")
    row = re.search(rf"^\| `{field}` \| `LOOKALIKE_{field.upper()}` \|", text, re.MULTILINE)
    assert row, f"configuration.md has no table row for {field} / LOOKALIKE_{field.upper()}"


def test_configuration_documents_no_setting_that_does_not_exist() -> None:
    names = set(Settings.model_fields)
    rows = re.findall(r"^\| `([a-z_]+)` \| `LOOKALIKE_", _doc("configuration.md"), re.MULTILINE)
    assert set(rows) == names


@pytest.mark.parametrize(
    ("command", "page", "known"),
    [
        ("index", "indexing.md", "--collection"),
        ("search", "searching.md", "--collection"),
        ("eval", "evaluation.md", "--collection"),
        ("reindex", "reindex.md", "--collection"),
        ("serve", "server.md", "--workers"),
    ],
)
def test_every_cli_option_is_documented(command: str, page: str, known: str) -> None:
    text = _doc(page)
    missing = [opt for opt in _options(command, known) if not _mentioned(text, opt)]
    assert not missing, f"{page} does not mention {missing}"


def test_option_check_tells_options_apart() -> None:
    # `--top-k` must not count as a mention of `--top`, nor `--group-by-folder` of `--group`.
    assert not _mentioned("use `--group-by-folder`", "--group")
    assert _mentioned("use `--group` here", "--group")
    assert _mentioned("| `--prune` / `--no-prune` |", "--no-prune")


def test_every_error_class_is_documented() -> None:
    text = _doc("python-api.md")
    classes = [
        name
        for name, obj in vars(lookalike.errors).items()
        if isinstance(obj, type) and issubclass(obj, lookalike.errors.LookalikeError)
    ]
    assert len(classes) > 5
    for name in classes:
        cls = getattr(lookalike.errors, name)
        row = f"| `{name}` |"
        assert row in text, f"python-api.md has no row for {name}"
        line = next(line for line in text.splitlines() if line.startswith(row))
        assert f"`{cls.code}` | {cls.status} | {cls.exit_code} |" in line, line


def test_every_known_model_is_documented() -> None:
    text = _doc("models.md")
    for name in MODELS:
        assert f"`{name}`" in text, f"models.md does not name {name}"


def test_links_between_pages_point_to_existing_pages() -> None:
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([a-z-]+\.md)(?:#[a-z0-9-]+)?\)", page.read_text()):
            assert (DOCS / target).is_file(), f"{page.name} links to missing {target}"


def _commands(group: object, path: str = "lookalike") -> list[tuple[str, object]]:
    """Every command and subcommand, with its path, duck-typed as in :func:`_options`."""
    found = [(path, group)]
    for name, cmd in sorted(getattr(group, "commands", {}).items()):
        found += _commands(cmd, f"{path} {name}")
    return found


def test_cli_help_carries_no_docstring_markup() -> None:
    # Docstrings become help text as they are: ``x`` or :func:`x` would be shown literally.
    group = typer.main.get_command(lookalike.cli.app)
    shown = []
    for path, cmd in _commands(group):
        texts = [getattr(cmd, "help", None) or "", getattr(cmd, "short_help", None) or ""]
        texts += [getattr(p, "help", None) or "" for p in getattr(cmd, "params", [])]
        shown += [(path, t) for t in texts if "``" in t or re.search(r":(func|class|data):`", t)]
    assert len(_commands(group)) > 20
    assert not shown, shown
