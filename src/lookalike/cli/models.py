"""``lookalike models``: the known semantic models, and downloading one."""

from __future__ import annotations

from rich.text import Text

from lookalike.cli.app import models_app
from lookalike.cli.options import DataDir, JsonOut
from lookalike.cli.output import err, print_json, print_table
from lookalike.config import Settings


@models_app.command("list")
def models_list(json_out: JsonOut = False) -> None:
    """Known semantic models."""
    from lookalike.models.specs import MODELS

    if json_out:
        print_json(
            [
                {
                    "name": s.name,
                    "dim": s.dim,
                    "vision": s.vision,
                    "text": s.text,
                    "scores": _scores(s.calibrated),
                    "license": s.license,
                    "description": s.description,
                }
                for s in MODELS.values()
            ]
        )
        return
    rows: list[list[str | Text]] = [
        [s.name, f"{s.dim}-d", s.vision, _scores(s.calibrated), s.description]
        for s in MODELS.values()
    ]
    print_table(["name", "dim", "vision", "scores", "description"], rows)


def _scores(calibrated: bool) -> str:
    return "calibrated" if calibrated else "raw cosine (range not measured)"


@models_app.command("download")
def models_download(name: str, data_dir: DataDir = None) -> None:
    """Download a model's files into the model folder, for offline use elsewhere."""
    from lookalike.models.clip import download_model

    folder = download_model(name, Settings.load(data_dir=data_dir))
    err.print(f"downloaded {name} to {folder}")
