"""``lookalike config``: the effective settings and where each came from."""

from __future__ import annotations

from rich.table import Table

from lookalike.cli.app import app
from lookalike.cli.options import DataDir, JsonOut
from lookalike.cli.output import out, print_json
from lookalike.config import Settings, config_path
from lookalike.logs import settings_summary


@app.command("config")
def config(data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """Print the effective settings and where each came from (default, file, env, flag); keys
    are masked."""
    _, origin = Settings.gather(data_dir=data_dir)  # raw values: keys unmasked, not shown
    settings = Settings.load(data_dir=data_dir)
    shown = settings_summary(settings)
    rows = [
        {"setting": name, "value": shown[name], "source": origin.get(name, "default")}
        for name in Settings.model_fields
    ]
    if json_out:
        print_json({"config_file": _str(config_path(data_dir)), "settings": rows})
        return
    table = Table("setting", "value", "source", box=None, pad_edge=False)
    for row in rows:
        table.add_row(row["setting"], _text(row["value"]), row["source"])
    out.print(f"config file: {_str(config_path(data_dir)) or 'none'}", markup=False)
    out.print(table)


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _text(value: object) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value) if value else "(none)"
    return "(none)" if value is None else str(value)
