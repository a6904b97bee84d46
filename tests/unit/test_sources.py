"""Enumeration of inputs and byte helpers in lookalike.sources."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import pytest
from PIL import Image

from lookalike.errors import BadImage, BadInput, ImageTooLarge
from lookalike.sources import (
    Item,
    ItemError,
    content_hash,
    decode_base64,
    is_url,
    iter_items,
    query_image_bytes,
    read_file_bytes,
)
from tests.support.encoded import encode


def png_bytes() -> bytes:
    return encode(Image.new("RGB", (4, 3), (200, 10, 10)), "PNG")


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def items(entries: list[Item | ItemError]) -> list[Item]:
    return [e for e in entries if isinstance(e, Item)]


def errors(entries: list[Item | ItemError]) -> list[ItemError]:
    return [e for e in entries if isinstance(e, ItemError)]


def write_jsonl(path: Path, lines: list[object]) -> Path:
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n",
        encoding="utf-8",
    )
    return path


# -- folders ----------------------------------------------------------------------------------


def test_folder_walk_is_sorted_recursive_and_skips_hidden_and_non_images(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    for name in [
        "b.jpg",
        "a.PNG",
        "shoes/red.jpeg",
        "shoes/blue.webp",
        "bags/z/deep.JPG",
        ".hidden.jpg",
        ".cache/inside.jpg",
        "shoes/.thumbs/t.jpg",
        "notes.txt",
        "shoes/readme.md",
    ]:
        touch(root / name)

    out = list(iter_items([str(root)]))

    assert errors(out) == []
    assert [i.id for i in items(out)] == [
        "a.PNG",
        "b.jpg",
        "bags/z/deep.JPG",
        "shoes/blue.webp",
        "shoes/red.jpeg",
    ]
    first = items(out)[0]
    assert first.path == root.absolute() / "a.PNG"
    assert first.source == str(root.absolute() / "a.PNG")
    assert first.root == root.absolute()
    assert all(i.group is None for i in items(out))


def test_group_by_folder_uses_relative_parent(tmp_path: Path) -> None:
    for name in ["top.jpg", "shoes/red.jpg", "bags/z/deep.jpg"]:
        touch(tmp_path / name)

    out = items(list(iter_items([str(tmp_path)], group_by_folder=True)))

    assert {i.id: i.group for i in out} == {
        "bags/z/deep.jpg": "bags/z",
        "shoes/red.jpg": "shoes",
        "top.jpg": None,
    }


def test_symlink_loop_terminates_and_lists_each_file_once(tmp_path: Path) -> None:
    root = tmp_path / "root"
    touch(root / "a.jpg")
    touch(root / "sub" / "b.jpg")
    os.symlink(root, root / "sub" / "up")  # points at an ancestor
    os.symlink(root / "sub", root / "again")  # second way into a folder already walked

    out = list(iter_items([str(root)]))

    assert errors(out) == []
    paths = sorted(i.path.resolve() for i in items(out) if i.path is not None)
    assert paths == [(root / "a.jpg").resolve(), (root / "sub" / "b.jpg").resolve()]


def test_symlinked_folder_outside_root_is_followed(tmp_path: Path) -> None:
    touch(tmp_path / "elsewhere" / "c.jpg")
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(tmp_path / "elsewhere", root / "linked")

    out = items(list(iter_items([str(root)])))

    assert [i.id for i in out] == ["linked/c.jpg"]


def test_broken_symlink_is_reported_not_raised(tmp_path: Path) -> None:
    touch(tmp_path / "ok.jpg")
    os.symlink(tmp_path / "gone.jpg", tmp_path / "dangling.jpg")

    out = list(iter_items([str(tmp_path)]))

    assert [i.id for i in items(out)] == ["ok.jpg"]
    [err] = errors(out)
    assert err.source == str(tmp_path / "dangling.jpg")
    assert isinstance(err.error, BadInput)
    assert "broken symlink" in err.error.message


# -- single files, URLs, lists ---------------------------------------------------------------


def test_single_image_file_and_url(tmp_path: Path) -> None:
    image = touch(tmp_path / "sub" / "Cat.JPG")
    url = "https://example.com/img/1.jpg?size=large"

    out = list(iter_items([str(image), url]))

    assert out == [
        Item(id="Cat.JPG", source=str(image.absolute()), path=image.absolute()),
        Item(id=url, source=url, url=url),
    ]


def test_image_without_extension_is_recognised_by_its_bytes(tmp_path: Path) -> None:
    image = touch(tmp_path / "snapshot", png_bytes())

    [item] = list(iter_items([str(image)]))

    assert isinstance(item, Item)
    assert item.id == "snapshot"


def test_missing_path_unknown_binary_and_other_scheme_are_errors(tmp_path: Path) -> None:
    binary = touch(tmp_path / "blob.bin", b"\x00\x01\x02garbage\x00")

    out = list(iter_items([str(tmp_path / "nope.jpg"), str(binary), "ftp://example.com/a.jpg"]))

    assert len(out) == 3
    assert all(isinstance(e, ItemError) and isinstance(e.error, BadInput) for e in out)
    messages = [e.error.message for e in errors(out)]
    assert "no such file" in messages[0]
    assert "not an image" in messages[1]
    assert "only http and https" in messages[2]


def test_an_empty_path_is_refused_not_taken_for_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touch(tmp_path / "a.jpg")
    monkeypatch.chdir(tmp_path)

    [entry] = list(iter_items([""]))

    assert isinstance(entry, ItemError) and isinstance(entry.error, BadInput)
    assert entry.error.message == "an empty path: give a folder, a file or a URL"


def test_url_list_file(tmp_path: Path) -> None:
    lists = tmp_path / "lists"
    lists.mkdir()
    listing = lists / "urls.txt"
    listing.write_text(
        "# product photos\n"
        "https://cdn.example.com/a.jpg\n"
        "\n"
        "   HTTP://cdn.example.com/b.png  \n"
        "local/c.jpg\n"
        "  # indented comment\n"
        "../d.webp\n",
        encoding="utf-8",
    )

    out = list(iter_items([str(listing)]))

    assert errors(out) == []
    assert [(i.id, i.url, i.path) for i in items(out)] == [
        ("https://cdn.example.com/a.jpg", "https://cdn.example.com/a.jpg", None),
        ("HTTP://cdn.example.com/b.png", "HTTP://cdn.example.com/b.png", None),
        ("local/c.jpg", None, lists.absolute() / "local/c.jpg"),
        ("../d.webp", None, lists.absolute() / "../d.webp"),
    ]


def test_url_list_refuses_other_schemes_as_urls_not_paths(tmp_path: Path) -> None:
    listing = tmp_path / "urls.txt"
    odd = tmp_path / "s3:" / "bucket"  # a real folder whose path looks like a URL stays a path
    odd.mkdir(parents=True)
    touch(odd / "e.jpg", png_bytes())
    listing.write_text(
        "ftp://example.com/a.jpg\nfile:///etc/passwd\nhttps://example.com/b.jpg\n"
        "s3://bucket/e.jpg\n",
        encoding="utf-8",
    )

    out = list(iter_items([str(listing)]))

    refused = errors(out)
    assert [e.source for e in refused] == ["ftp://example.com/a.jpg", "file:///etc/passwd"]
    assert all(isinstance(e.error, BadInput) for e in refused)
    assert "only http and https URLs are supported (ftp)" in refused[0].error.message
    assert [(i.id, i.url, i.path) for i in items(out)] == [
        ("https://example.com/b.jpg", "https://example.com/b.jpg", None),
        ("s3://bucket/e.jpg", None, tmp_path / "s3://bucket/e.jpg"),
    ]


# -- JSONL catalogs ---------------------------------------------------------------------------


def test_catalog_with_plain_keys(tmp_path: Path) -> None:
    data = png_bytes()
    encoded = base64.b64encode(data).decode()
    catalog = write_jsonl(
        tmp_path / "catalog.jsonl",
        [
            {"id": "sku-1", "path": "img/1.jpg", "metadata": {"price": 10}, "group": "p1"},
            {"path": "img/2.jpg"},
            {"id": 7, "url": "https://example.com/7.jpg", "group": 42},
            {"base64": encoded, "metadata": {"color": "red"}},
            {"id": "inline", "base64": f"data:image/png;base64,{encoded}"},
        ],
    )

    out = list(iter_items([str(catalog)]))

    assert errors(out) == []
    one, two, seven, anonymous, inline = items(out)
    assert (one.id, one.path, one.metadata, one.group) == (
        "sku-1",
        tmp_path / "img/1.jpg",
        {"price": 10},
        "p1",
    )
    assert (two.id, two.path) == ("img/2.jpg", tmp_path / "img/2.jpg")
    assert (seven.id, seven.url, seven.group) == ("7", "https://example.com/7.jpg", "42")
    assert anonymous.id == hashlib.sha256(data).hexdigest()[:32]
    assert (anonymous.data, anonymous.source, anonymous.metadata) == (
        data,
        "base64",
        {"color": "red"},
    )
    assert inline.data == data


def test_catalog_with_ximilar_style_keys_puts_free_keys_in_metadata(tmp_path: Path) -> None:
    data = png_bytes()
    catalog = write_jsonl(
        tmp_path / "records.ndjson",
        [
            {"_id": "a", "_url": "https://example.com/a.jpg", "category": "shoes", "price": 5},
            {"_id": "b", "_file": "pics/b.png", "tags": ["x"], "metadata": {"price": 9}},
            {"_base64": base64.b64encode(data).decode(), "brand": "acme"},
        ],
    )

    out = items(list(iter_items([str(catalog)])))

    assert [(i.id, i.url, i.path, i.metadata) for i in out[:2]] == [
        ("a", "https://example.com/a.jpg", None, {"category": "shoes", "price": 5}),
        ("b", None, tmp_path / "pics/b.png", {"tags": ["x"], "price": 9}),
    ]
    assert out[2].id == content_hash(data)[:32]
    assert out[2].metadata == {"brand": "acme"}


def test_a_catalog_path_naming_a_folder_is_reported_at_its_line(tmp_path: Path) -> None:
    catalog = write_jsonl(tmp_path / "c.jsonl", [{"path": "."}])

    [entry] = list(iter_items([str(catalog)]))

    assert isinstance(entry, ItemError) and entry.source == f"{catalog}:1"
    assert entry.error.message == f"{catalog}, line 1: path '.' is a folder, not an image file"


def test_a_metadata_file_that_is_a_folder_is_named_so(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="is a folder, not a regular file"):
        list(iter_items([str(tmp_path)], metadata_file=tmp_path))


def test_bad_catalog_lines_are_reported_with_line_numbers(tmp_path: Path) -> None:
    catalog = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {"id": "good-1", "url": "https://example.com/1.jpg"},  # 1
            "{not json",  # 2
            "[1, 2]",  # 3
            {"id": "none"},  # 4: no image field
            {"id": "both", "path": "a.jpg", "url": "https://example.com/a.jpg"},  # 5
            {"id": "md", "path": "a.jpg", "metadata": [1]},  # 6
            {"id": "grp", "path": "a.jpg", "group": {"x": 1}},  # 7
            "",  # 8: blank, skipped
            {"id": "b64", "base64": "!!! not base64 !!!"},  # 9
            {"id": "good-2", "_file": "b.jpg"},  # 10
        ],
    )

    out = list(iter_items([str(catalog)]))

    assert [i.id for i in items(out)] == ["good-1", "good-2"]
    bad = errors(out)
    assert [e.source for e in bad] == [f"{catalog}:{n}" for n in (2, 3, 4, 5, 6, 7, 9)]
    for err, n in zip(bad, (2, 3, 4, 5, 6, 7, 9), strict=True):
        assert isinstance(err.error, BadInput)
        assert f"{catalog}, line {n}" in err.error.message
    assert "metadata" in bad[4].error.message
    assert "group" in bad[5].error.message


def test_catalog_lines_whose_metadata_a_store_cannot_keep_fail_alone(tmp_path: Path) -> None:
    deep: object = 1
    for _ in range(40):
        deep = {"a": deep}
    catalog = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {"id": "ok-1", "url": "https://example.com/1.jpg", "price": 1.5},
            '{"id": "nan", "url": "https://example.com/2.jpg", "price": NaN}',
            '{"id": "inf", "url": "https://example.com/3.jpg", "metadata": {"w": 1e400}}',
            {"id": "big", "url": "https://example.com/4.jpg", "n": 2**64},
            {"id": "deep", "url": "https://example.com/5.jpg", "metadata": {"d": deep}},
            {"id": "ok-2", "url": "https://example.com/6.jpg", "n": 2**63 - 1},
        ],
    )
    out = list(iter_items([str(catalog)]))
    assert [i.id for i in items(out)] == ["ok-1", "ok-2"]
    bad = errors(out)
    assert [e.source for e in bad] == [f"{catalog}:{n}" for n in (2, 3, 4, 5)]
    assert all(isinstance(e.error, BadInput) for e in bad)
    assert "price" in bad[0].error.message and "w" in bad[1].error.message
    assert "64 bits" in bad[2].error.message and "deeper" in bad[3].error.message


def test_an_id_holding_a_nul_byte_fails_its_line_alone(tmp_path: Path) -> None:
    catalog = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {"id": "ok-1", "url": "https://example.com/1.jpg"},
            {"id": "a\u0000b", "url": "https://example.com/2.jpg"},  # 2
            {"_id": "c\u0000", "path": "c.jpg"},  # 3
            {"url": "https://example.com/d\u0000.jpg"},  # 4: the URL would be the id
            {"id": "new\nline", "url": "https://example.com/5.jpg"},  # kept, as before
        ],
    )
    out = list(iter_items([str(catalog)]))
    assert [i.id for i in items(out)] == ["ok-1", "new\nline"]
    bad = errors(out)
    assert [e.source for e in bad] == [f"{catalog}:{n}" for n in (2, 3, 4)]
    assert all(isinstance(e.error, BadInput) for e in bad)
    assert bad[0].error.message == f"{catalog}, line 2: id 'a\\x00b' holds a NUL byte"
    assert "NUL byte" in bad[1].error.message and "NUL byte" in bad[2].error.message


def test_the_python_api_refuses_an_id_holding_a_nul_byte_in_any_form() -> None:
    from lookalike.sources import as_item

    for spec in (
        {"id": "a\0b", "data": png_bytes()},
        {"id": "a\0b", "url": "https://example.com/a.jpg"},
        Item(id="a\0b", source="https://example.com/a.jpg", url="https://example.com/a.jpg"),
        "https://example.com/a\0b.jpg",
    ):
        refused = as_item(spec, 1 << 20)
        assert isinstance(refused, ItemError), spec
        assert isinstance(refused.error, BadInput)
    kept = as_item({"id": "a\nb", "data": png_bytes()}, 1 << 20)
    assert isinstance(kept, Item) and kept.id == "a\nb"


# -- metadata file ----------------------------------------------------------------------------


def test_metadata_file_merges_onto_items_by_id(tmp_path: Path) -> None:
    touch(tmp_path / "imgs" / "shoes" / "red.jpg")
    touch(tmp_path / "imgs" / "blue.jpg")
    catalog = write_jsonl(
        tmp_path / "c.jsonl",
        [{"id": "c1", "url": "https://example.com/c1.jpg", "metadata": {"a": 1, "b": 1}}],
    )
    meta = write_jsonl(
        tmp_path / "meta.jsonl",
        [
            {"id": "shoes/red.jpg", "metadata": {"color": "red"}, "group": "sku-9"},
            {"_id": "c1", "b": 2, "c": 3},
            {"id": "unknown", "metadata": {"ignored": True}},
            "oops",
        ],
    )

    out = list(iter_items([str(tmp_path / "imgs"), str(catalog)], metadata_file=meta))

    [bad] = errors(out)
    assert bad.source == f"{meta}:4"
    by_id = {i.id: i for i in items(out)}
    assert set(by_id) == {"blue.jpg", "shoes/red.jpg", "c1"}
    assert (by_id["shoes/red.jpg"].metadata, by_id["shoes/red.jpg"].group) == (
        {"color": "red"},
        "sku-9",
    )
    assert by_id["c1"].metadata == {"a": 1, "b": 2, "c": 3}
    assert (by_id["blue.jpg"].metadata, by_id["blue.jpg"].group) == ({}, None)


def test_missing_metadata_file_is_a_whole_run_error(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="metadata file"):
        list(iter_items([str(tmp_path)], metadata_file=tmp_path / "missing.jsonl"))


# -- bytes ------------------------------------------------------------------------------------


def test_decode_base64_raw_data_url_urlsafe_and_unpadded() -> None:
    data = bytes(range(256)) * 3 + b"\xfb\xff"
    standard = base64.b64encode(data).decode()

    assert decode_base64(standard, max_bytes=10_000) == data
    assert decode_base64(f"data:image/jpeg;base64,{standard}", max_bytes=10_000) == data
    assert decode_base64("DATA:image/png;BASE64," + standard, max_bytes=10_000) == data
    wrapped = "\n".join(standard[i : i + 76] for i in range(0, len(standard), 76))
    assert decode_base64(wrapped, max_bytes=10_000) == data
    urlsafe = base64.urlsafe_b64encode(data).decode().rstrip("=")
    assert decode_base64(urlsafe, max_bytes=10_000) == data


@pytest.mark.parametrize("garbage", ["", "   ", "not base64 at all!", "abc*def", "data:image/png"])
def test_decode_base64_rejects_garbage(garbage: str) -> None:
    with pytest.raises(BadInput):
        decode_base64(garbage, max_bytes=10_000)


def test_decode_base64_size_cap() -> None:
    text = base64.b64encode(b"\0" * 2000).decode()
    with pytest.raises(ImageTooLarge):
        decode_base64(text, max_bytes=1000)
    assert len(decode_base64(text, max_bytes=2000)) == 2000


def test_read_file_bytes(tmp_path: Path) -> None:
    path = touch(tmp_path / "a.jpg", b"12345")

    assert read_file_bytes(path, max_bytes=5) == b"12345"
    with pytest.raises(ImageTooLarge, match="a.jpg"):
        read_file_bytes(path, max_bytes=4)
    with pytest.raises(BadImage, match="cannot read"):
        read_file_bytes(tmp_path / "missing.jpg", max_bytes=5)
    with pytest.raises(BadImage, match="is a folder, not a regular file"):
        read_file_bytes(tmp_path, max_bytes=5)


@pytest.mark.timeout(20)
def test_special_files_are_refused_per_item_never_read(tmp_path: Path) -> None:
    """A FIFO blocks its reader until a writer comes, a device never ends: each is one failed
    item, as an argument, a line of a list, a folder's entry or a query image."""
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    listing = tmp_path / "list.txt"
    listing.write_text(f"{fifo}\n")
    folder = tmp_path / "photos"
    touch(folder / "a.jpg", png_bytes())
    os.mkfifo(folder / "b.jpg")
    os.symlink("/dev/zero", folder / "c.jpg")

    [argument] = list(iter_items([str(fifo)]))
    assert isinstance(argument, ItemError) and isinstance(argument.error, BadInput)
    assert "is a FIFO (named pipe), not a regular file" in argument.error.message
    [line] = list(iter_items([str(listing)]))
    assert isinstance(line, Item) and line.path == fifo
    with pytest.raises(BadImage, match="pipe.jpg is a FIFO"):
        read_file_bytes(fifo, max_bytes=5)
    walked = list(iter_items([str(folder)]))
    assert [i.id for i in items(walked)] == ["a.jpg"]
    assert [(e.source, e.error.message.split(" is ")[1]) for e in errors(walked)] == [
        (str(folder / "b.jpg"), "a FIFO (named pipe), not a regular file"),
        (str(folder / "c.jpg"), "a character device, not a regular file"),
    ]
    with pytest.raises(BadImage, match="is a folder, not a regular file"):
        query_image_bytes(str(folder), max_bytes=5)
    with pytest.raises(BadImage, match="is a character device"):
        query_image_bytes(str(folder / "c.jpg"), max_bytes=5)


def test_content_hash_is_sha256_hex() -> None:
    assert content_hash(b"abc") == hashlib.sha256(b"abc").hexdigest()


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("https://example.com/a.jpg", True),
        ("HTTP://EXAMPLE.COM/A.JPG", True),
        ("ftp://example.com/a.jpg", False),
        ("http:/one-slash.jpg", False),
        ("httpserver/a.jpg", False),
        ("/srv/images/a.jpg", False),
    ],
)
def test_only_http_and_https_in_any_case_are_urls(text: str, url: bool) -> None:
    assert is_url(text) is url
    listed = list(iter_items([text]))
    assert len(listed) == 1 and (isinstance(listed[0], Item) and listed[0].url == text) is url


def test_as_item_names_a_file_given_by_path_by_its_file_name(tmp_path: Path) -> None:
    from lookalike.sources import ItemError, as_item, content_hash, path_item

    image = tmp_path / "sub" / "a.jpg"
    by_path = as_item(image, 1 << 20)
    assert isinstance(by_path, Item) and by_path.id == "a.jpg"
    assert by_path.source == str(image.absolute()) and by_path.path == image.absolute()
    assert as_item(str(image), 1 << 20) == by_path == path_item(image)
    url = "https://example.com/x/b.jpg"
    by_url = as_item(url, 1 << 20)
    assert isinstance(by_url, Item) and (by_url.id, by_url.url) == (url, url)
    as_dict = as_item({"path": "sub/a.jpg"}, 1 << 20)  # an object: its path as written
    assert isinstance(as_dict, Item) and as_dict.id == "sub/a.jpg"
    data = b"\x89PNG not really"
    by_bytes = as_item(data, 1 << 20)
    assert isinstance(by_bytes, Item) and by_bytes.id == content_hash(data)[:32]
    for bad in ("ftp://example.com/a.jpg", 3.5, {"path": "a.jpg", "url": url}):
        assert isinstance(as_item(bad, 1 << 20), ItemError), bad
    named = as_item({"id": "x", "path": ""}, 1 << 20)
    assert isinstance(named, ItemError) and named.id == "x"
