"""``lookalike models``: the known semantic models, and downloading one."""

from __future__ import annotations

from lookalike.cli.app import models_app
from lookalike.cli.options import DataDir
from lookalike.cli.output import err, out
from lookalike.config import Settings


@models_app.command("list")
def models_list() -> None:
    """Known semantic models."""
    from lookalike.models.specs import MODELS

    for spec in MODELS.values():
        scores = "calibrated" if spec.calibrated else "raw cosine (range not measured)"
        out.print(f"{spec.name}\t{spec.dim}-d\t{spec.vision}\t{scores}\t{spec.description}")


@models_app.command("download")
def models_download(name: str, data_dir: DataDir = None) -> None:
    """Download a model's files into the model folder, for offline use elsewhere."""
    from lookalike.models.clip import download_model

    folder = download_model(name, Settings.load(data_dir=data_dir))
    err.print(f"downloaded {name} to {folder}")
