"""The page's ES modules as files: each one the server lists, and imports that go one way (no
module reaches itself through its imports), so any module can be read and loaded on its own."""

from __future__ import annotations

import re
from importlib import resources

from lookalike.api.routes.page import ASSETS

IMPORT = re.compile(r'^import [^;]* from "\./([^"]+)";$', re.MULTILINE)


def _imports() -> dict[str, set[str]]:
    static = resources.files("lookalike.api").joinpath("static")
    return {
        name: set(IMPORT.findall(static.joinpath(name).read_text(encoding="utf-8")))
        for name in ASSETS
        if name.endswith(".js")
    }


def test_every_module_is_served() -> None:
    static = resources.files("lookalike.api").joinpath("static")
    on_disk = {p.name for p in static.iterdir() if p.name.endswith(".js")}
    assert on_disk == {name for name in ASSETS if name.endswith(".js")}


def test_modules_import_each_other_in_one_direction() -> None:
    graph = _imports()
    assert graph["app.js"], "app.js imports the views"

    def reaches(start: str) -> set[str]:
        seen: set[str] = set()
        todo = list(graph[start])
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(graph.get(name, ()))
        return seen

    cycles = [name for name in graph if name in reaches(name)]
    assert not cycles, f"modules that import themselves through others: {cycles}"
