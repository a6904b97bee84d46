"""Settings are typed and bounded, and a wrong value names the setting and where it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from lookalike.config import Settings
from lookalike.errors import BadInput


@pytest.mark.parametrize(
    ("var", "value", "words"),
    [
        ("LOOKALIKE_BATCH_SIZE", "-5", "greater than or equal to 1"),
        ("LOOKALIKE_BATCH_SIZE", "0", "greater than or equal to 1"),
        ("LOOKALIKE_BATCH_SIZE", "abc", "valid integer"),
        ("LOOKALIKE_PORT", "99999", "less than or equal to 65535"),
        ("LOOKALIKE_OFFLINE", "ture", "valid boolean"),
        ("LOOKALIKE_FACE_DETECTOR", "haar", "'hog' or 'cnn'"),
        ("LOOKALIKE_NSFW_THRESHOLD", "1.5", "less than or equal to 1"),
    ],
)
def test_a_wrong_environment_value_is_refused_naming_its_source(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, var: str, value: str, words: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(BadInput) as caught:
        Settings.load(data_dir=tmp_path)
    name = var.removeprefix("LOOKALIKE_").lower()
    assert f"setting {name} = {value!r} (from env {var})" in caught.value.message
    assert words in caught.value.message


@pytest.mark.parametrize(("value", "expected"), [("yes", True), ("OFF", False), ("1", True)])
def test_booleans_read_their_usual_spellings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str, expected: bool
) -> None:
    monkeypatch.setenv("LOOKALIKE_OFFLINE", value)
    assert Settings.load(data_dir=tmp_path).offline is expected


def test_sources_win_in_order_file_env_flag(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "config.toml").write_text(
        'batch_size = 4\nfetch_retries = 1\napi_keys = ["a", "b"]\n'
    )
    monkeypatch.setenv("LOOKALIKE_FETCH_RETRIES", "2")
    monkeypatch.setenv("LOOKALIKE_CORS_ORIGINS", "http://a.example, http://b.example")
    values, origin = Settings.gather(data_dir=tmp_path, batch_size=None, decode_workers=3)
    s = Settings.load(data_dir=tmp_path, decode_workers=3)
    assert (s.batch_size, s.fetch_retries, s.decode_workers) == (4, 2, 3)
    assert s.api_keys == ("a", "b")
    assert s.cors_origins == ("http://a.example", "http://b.example")
    assert origin["batch_size"] == f"file {tmp_path / 'config.toml'}"
    assert origin["fetch_retries"] == "env LOOKALIKE_FETCH_RETRIES"
    assert origin["decode_workers"] == "flag"
    assert "port" not in values


def test_a_wrong_file_value_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("max_pixels = -1\n")
    with pytest.raises(BadInput, match=r"setting max_pixels = -1 \(from file .*config.toml\)"):
        Settings.load(data_dir=tmp_path)


def test_direct_construction_reads_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOOKALIKE_BATCH_SIZE", "7")
    assert Settings().batch_size == 16
    assert Settings().replace(batch_size=3).batch_size == 3
    with pytest.raises(BadInput, match="batch_size"):
        Settings().replace(batch_size=0)


def test_root_path_is_a_sub_path_without_its_trailing_slash() -> None:
    assert Settings(root_path="/search/").root_path == "/search"
    assert Settings(root_path="/a/b").root_path == "/a/b"
    assert Settings(root_path="/").root_path == ""
    for bad in ("search", "/a//b", "/a b", "/a?x"):
        with pytest.raises(BadInput, match="root_path"):
            Settings(root_path=bad)
    assert Settings(forwarded_allow_ips="10.0.0.5, 10.0.0.6").forwarded_allow_ips == (
        "10.0.0.5",
        "10.0.0.6",
    )


def test_an_empty_server_is_none_and_a_server_is_an_http_url() -> None:
    assert Settings.load(server="").server is None
    assert Settings.load(server=" https://search.test:8000 ").server == "https://search.test:8000"
    for typo in ("bogus", "ftp://x", "http://", "127.0.0.1:8000"):
        with pytest.raises(BadInput, match=r"setting server = .* not an http\(s\) URL"):
            Settings.load(server=typo)


def test_a_config_file_that_is_a_folder_is_named_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LOOKALIKE_CONFIG", str(tmp_path))
    with pytest.raises(BadInput, match=f"cannot read config file {tmp_path}: a folder, not a file"):
        Settings.load()
