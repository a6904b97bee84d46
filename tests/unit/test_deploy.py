"""The deployment files in the repository, checked with what runs here (no container engine):
the compose files against the Compose specification's JSON schema, the systemd unit with
``systemd-analyze verify``, the Dockerfile read instruction by instruction, and every setting
they name against the settings class."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from lookalike.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILES = sorted((ROOT / "deploy").glob("compose*.yaml"))
SCHEMA = ROOT / "tests" / "data" / "deploy" / "compose-spec.json"


def _settings_named(text: str) -> set[str]:
    return {m.lower() for m in re.findall(r"\bLOOKALIKE_([A-Z_]+[A-Z])\b", text)}


def test_there_are_compose_files() -> None:
    assert {p.name for p in COMPOSE_FILES} >= {"compose.yaml", "compose.qdrant.yaml"}


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_file_follows_the_compose_specification(path: Path) -> None:
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    validator = jsonschema.Draft201909Validator(json.loads(SCHEMA.read_text()))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert not errors, errors
    service = doc["services"]["lookalike"]
    assert service["build"]["context"] == ".."
    assert any(v.endswith(":/data") for v in service["volumes"])
    assert "LOOKALIKE_API_KEYS" in service["environment"]  # no keyless server on a network


@pytest.mark.parametrize(
    "path",
    [*COMPOSE_FILES, ROOT / "Dockerfile", ROOT / "deploy" / "lookalike.service"],
    ids=lambda p: p.name,
)
def test_every_setting_a_deployment_file_names_exists(path: Path) -> None:
    named = _settings_named(path.read_text()) - {"config"}
    assert named, f"{path.name} names no setting"
    unknown = named - set(Settings.model_fields)
    assert not unknown, f"{path.name} sets unknown settings: {sorted(unknown)}"


def test_the_dockerfile_builds_a_slim_non_root_image_with_a_healthcheck() -> None:
    lines = []
    for raw in re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text()).splitlines():
        if raw.strip() and not raw.lstrip().startswith("#"):
            lines.append(raw.strip())
    instructions = [(line.split()[0].upper(), line) for line in lines]
    froms = [line for kind, line in instructions if kind == "FROM"]
    assert len(froms) == 2 and all("-slim" in f for f in froms)  # a build stage, a slim runtime
    final = instructions[[k for k, _ in instructions].index("FROM", 1) :]
    kinds = [k for k, _ in final]
    users = [line for k, line in final if k == "USER"]
    assert users and users[-1].split()[1] not in ("root", "0")
    assert kinds.index("USER") < kinds.index("CMD")
    assert "HEALTHCHECK" in kinds and "/health" in dict(final)["HEALTHCHECK"]
    assert any(line.startswith("ARG MODELS") for line in lines)  # models baked in on request
    assert json.loads(dict(final)["CMD"].removeprefix("CMD").strip()) == ["lookalike", "serve"]


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing (Debian's systemd package provides it)")
    command = Path(sys.executable).with_name("lookalike")
    assert command.exists(), command
    unit = (ROOT / "deploy" / "lookalike.service").read_text()
    assert "ExecStart=/opt/lookalike/bin/lookalike serve" in unit
    # verify checks that ExecStart's program exists: point it at the installed command
    local = tmp_path / "lookalike.service"
    local.write_text(unit.replace("/opt/lookalike/bin/lookalike", str(command)))
    done = subprocess.run(
        [analyze, "verify", str(local)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
