"""``lookalike moderate``: the moderation signal's verdict without indexing."""

from __future__ import annotations

from typing import Annotated

import typer

from lookalike.cli.app import app
from lookalike.cli.connect import engine_for
from lookalike.cli.options import DataDir, JsonOut, ServerUrl
from lookalike.cli.output import out, print_json, query_error
from lookalike.errors import LookalikeError


@app.command()
def moderate(
    images: Annotated[list[str], typer.Argument(help="Image paths or URLs.")],
    collection: Annotated[
        str | None,
        typer.Option(
            "--collection", "-c", help="Check as indexing into this collection would (optional)."
        ),
    ] = None,
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Check images with the moderation signal without indexing them; exits 1 if one is unsafe."""
    unsafe = failed = 0
    with engine_for(data_dir, server) as engine:
        check = engine.collection(collection).moderate if collection else engine.moderate
        for image in images:
            try:
                verdict = check(image)
            except LookalikeError as exc:
                if len(images) == 1:
                    if json_out:  # the answer on stdout, the one-line error on stderr
                        query_error(image, exc, json_out=True, key="image")
                    raise
                query_error(image, exc, json_out, key="image")
                failed = max(failed, exc.exit_code)
                continue
            unsafe += not verdict["safe"]
            if json_out:
                print_json({"image": image, **verdict})
            else:
                labels = " ".join(f"{d['label']}={d['score']:.2f}" for d in verdict["labels"])
                state = "safe" if verdict["safe"] else "UNSAFE"
                out.print(f"{state}\tnsfw={verdict['nsfw']:.3f}\t{image}\t{labels}", markup=False)
    if failed or unsafe:
        raise typer.Exit(failed or 1)
