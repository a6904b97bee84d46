"""Server-side paths: only real files under an allowed root are read."""

from __future__ import annotations

from pathlib import Path

import pytest

from lookalike.api.inputs import allowed_path
from lookalike.errors import BadInput, ForbiddenPath


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.jpg").write_bytes(b"inside")
    (tmp_path / "secret.jpg").write_bytes(b"outside")
    (root / "escape.jpg").symlink_to(tmp_path / "secret.jpg")
    (root / "escape-dir").symlink_to(tmp_path)
    (root / "alias.jpg").symlink_to(root / "sub" / "a.jpg")
    (tmp_path / "root-link").symlink_to(root)
    return tmp_path


def test_files_under_a_root_resolve_to_their_real_path(tree: Path) -> None:
    root = str(tree / "root")
    real = (tree / "root" / "sub" / "a.jpg").resolve()
    assert allowed_path(tree / "root" / "sub" / "a.jpg", [root]) == real
    assert allowed_path("sub/a.jpg", [root]) == real  # relative to the first root
    assert allowed_path(tree / "root" / "alias.jpg", [root]) == real  # a link that stays inside
    # a root configured through a symlink takes paths under its own name and its real one
    linked = [str(tree / "root-link")]
    assert allowed_path(tree / "root-link" / "sub" / "a.jpg", linked) == real
    assert allowed_path(tree / "root" / "sub" / "a.jpg", linked) == real
    # but another name for a root is not read without being resolved first
    with pytest.raises(ForbiddenPath):
        allowed_path(tree / "root-link" / "sub" / "a.jpg", [root])


@pytest.mark.parametrize(
    "given",
    [
        "../secret.jpg",
        "sub/../../secret.jpg",
        "/etc/passwd",
        "{tmp}/secret.jpg",
        "{tmp}/root/../secret.jpg",
    ],
)
def test_traversal_and_outside_paths_are_refused_before_the_disk_is_read(
    tree: Path, given: str
) -> None:
    with pytest.raises(ForbiddenPath, match="outside the folders"):
        allowed_path(given.format(tmp=tree), [str(tree / "root")])


@pytest.mark.parametrize("link", ["escape.jpg", "escape-dir/secret.jpg"])
def test_symlinks_out_of_the_root_are_refused(tree: Path, link: str) -> None:
    with pytest.raises(ForbiddenPath, match="symbolic link"):
        allowed_path(tree / "root" / link, [str(tree / "root")])


def test_no_roots_refuses_every_path(tree: Path) -> None:
    with pytest.raises(ForbiddenPath, match="no allowed_roots"):
        allowed_path(tree / "root" / "sub" / "a.jpg", [])


def test_missing_files_and_folders_fail_as_bad_input(tree: Path) -> None:
    root = str(tree / "root")
    with pytest.raises(BadInput, match="no such file") as missing:
        allowed_path("sub/nope.jpg", [root])
    assert not isinstance(missing.value, ForbiddenPath)
    with pytest.raises(BadInput, match="not a file"):
        allowed_path("sub", [root])


def test_a_path_items_source_is_the_real_path_of_a_link(tmp_path: Path) -> None:
    from lookalike.api.inputs import server_item
    from lookalike.config import Settings

    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    (root / "real" / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (root / "link.jpg").symlink_to(root / "real" / "photo.jpg")
    settings = Settings(data_dir=tmp_path / "data", allowed_roots=(str(root),))
    item = server_item({"path": "link.jpg"}, settings)
    assert item.source == str((root / "real" / "photo.jpg").resolve())
    assert item.path == (root / "real" / "photo.jpg").resolve()
