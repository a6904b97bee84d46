"""`lookalike config`: the effective settings with the source of each, keys masked."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run


def test_config_shows_each_setting_with_its_source(env: dict[str, str], tmp_path: Path) -> None:
    data = Path(env["LOOKALIKE_DATA_DIR"])
    data.mkdir(parents=True, exist_ok=True)
    (data / "config.toml").write_text('fetch_retries = 1\napi_keys = ["file-key"]\n')
    env = {**env, "LOOKALIKE_BATCH_SIZE": "8", "LOOKALIKE_API_KEY": "cli-secret"}
    shown = json.loads(run(env, "config", "--json").stdout)
    rows = {r["setting"]: r for r in shown["settings"]}
    assert shown["config_file"] == str(data / "config.toml")
    assert rows["batch_size"] == {
        "setting": "batch_size",
        "value": 8,
        "source": "env LOOKALIKE_BATCH_SIZE",
    }
    assert rows["fetch_retries"]["source"] == f"file {data / 'config.toml'}"
    assert rows["port"] == {"setting": "port", "value": 8000, "source": "default"}
    assert rows["api_keys"]["value"] == ["***"] and rows["api_key"]["value"] == "***"
    table = run(env, "config").stdout
    assert "cli-secret" not in table and "file-key" not in table
    assert "env LOOKALIKE_BATCH_SIZE" in table


def test_a_wrong_setting_stops_with_its_name_and_source(env: dict[str, str]) -> None:
    done = run({**env, "LOOKALIKE_PORT": "99999"}, "config", ok=False)
    assert done.returncode == 2
    assert "setting port = '99999' (from env LOOKALIKE_PORT)" in done.stderr


def test_the_data_folder_is_shown_from_the_environment_or_the_flag(
    env: dict[str, str], tmp_path: Path
) -> None:
    def source(*args: str, environ: dict[str, str] = env) -> object:
        rows = json.loads(run(environ, "config", "--json", *args).stdout)["settings"]
        return next((r["value"], r["source"]) for r in rows if r["setting"] == "data_dir")

    assert source() == (env["LOOKALIKE_DATA_DIR"], "env LOOKALIKE_DATA_DIR")
    other = str(tmp_path / "other")
    assert source("--data-dir", other) == (other, "flag")
    unset = {**env, "LOOKALIKE_DATA_DIR": "", "XDG_DATA_HOME": str(tmp_path / "xdg")}
    assert source(environ=unset) == (str(tmp_path / "xdg" / "lookalike"), "default")
