"""The README's Python example, saved as a plain script (no ``if __name__ == "__main__":``
guard) and run as a user runs it: it indexes through decode worker processes, which must not
re-run the script."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    example = next(b for b in blocks if "Engine.open()" in b and "shop.index" in b)
    assert "__main__" not in example  # the example is a plain script
    return example


@pytest.mark.slow
def test_the_readme_python_example_runs_as_a_plain_script(
    env: dict[str, str], tmp_path: Path, tiny_model: Path
) -> None:
    work = tmp_path / "work"
    (work / "imgs").mkdir(parents=True)
    rng = np.random.default_rng(7)
    with open(work / "catalog.jsonl", "w") as fh:
        for i in range(24):  # enough for the decode worker processes to be used
            path = work / "imgs" / f"p{i}.jpg"
            Image.fromarray((rng.random((160, 200, 3)) * 255).astype("uint8")).save(path)
            row = {"id": f"sku-{i}", "path": str(path), "metadata": {"price": 50 + 5 * i}}
            fh.write(json.dumps(row) + "\n")
    (work / "example.py").write_text(_readme_example())
    done = subprocess.run(
        [sys.executable, "example.py"],
        cwd=work,
        env={**env, "LOOKALIKE_DEFAULT_MODEL": str(tiny_model), "LOOKALIKE_DECODE_WORKERS": "2"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "24 []"
    hits = [line.split()[0] for line in lines[1:]]
    assert len(hits) == 5 and all(h.startswith("sku-") for h in hits)
    cheap = {f"sku-{i}" for i in range(24) if 50 + 5 * i < 100}
    assert set(hits) <= cheap  # the example's price filter held
