"""The clean-up route: clusters of copies, the record to keep, deleting the copies."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from lookalike import Engine
from lookalike.config import Settings
from lookalike.signals.duplicate.localfeatures import COPY_THRESHOLD
from tests.support.photo_collection import index_photos, record_id
from tests.support.server import in_process

COPIED = ("chelsea", "rocket")


def _add_copies(settings: Settings, folder: Path, tmp_path: Path) -> list[str]:
    """A smaller, recompressed copy of two photos, with a larger ``n`` than any original."""
    items = []
    for name in COPIED:
        im = Image.open(folder / f"{name}.jpg").convert("RGB")
        path = tmp_path / f"{name}-copy.jpg"
        im.resize((im.width // 2, im.height // 2)).save(path, quality=50)
        items.append({"id": f"copies/{name}", "path": str(path), "metadata": {"n": 100}})
    with Engine(settings) as engine:
        assert engine.collection("photos").add(items).indexed == len(items)
    return [i["id"] for i in items]


def test_clusters_keep_rules_and_deleting_copies(
    server_settings: Settings, photo_files: Path, tmp_path: Path
) -> None:
    index_photos(server_settings, photo_files)
    copies = _add_copies(server_settings, photo_files, tmp_path)
    index_photos(server_settings, photo_files, name="meaning", signals="semantic")
    with in_process(server_settings) as api:
        route = "/collections/photos/duplicates"
        r = api.post(route)  # no body: the defaults
        assert r.status_code == 200, r.text
        data = r.json()
        assert data["threshold"] == COPY_THRESHOLD and data["keep"] == "original"
        clusters = {c["keep"]: c for c in data["clusters"]}
        assert set(clusters) == {record_id(n) for n in COPIED}
        largest = api.post(route, json={"keep": "largest"}).json()  # the former default
        assert largest["keep"] == "largest"
        assert {c["keep"] for c in largest["clusters"]} == set(clusters)
        for name, copy in zip(COPIED, copies, strict=True):
            cluster = clusters[record_id(name)]
            assert cluster["copies"] == [copy]
            roles = {m["id"]: m["role"] for m in cluster["members"]}
            assert roles == {record_id(name): "keep", copy: "copy"}
            assert all(m["score"] >= COPY_THRESHOLD for m in cluster["members"])
            for m in cluster["members"]:  # why it was grouped: inliers and region, or the hash
                assert m["linked_to"] in roles and m["linked_to"] != m["id"]
                if m["inliers"] is not None:
                    left, top, right, bottom = m["region"]
                    assert 0 <= left < right <= 1 and 0 <= top < bottom <= 1
                else:
                    assert m["region"] is None and m["hash_distance"] is not None

        by_field = api.post(route, json={"keep": "metadata.n:max"}).json()
        assert sorted(c["keep"] for c in by_field["clusters"]) == sorted(copies)

        strict = api.post(route, json={"threshold": 1.0}).json()
        assert strict["threshold"] == 1.0 and len(strict["clusters"]) <= len(COPIED)

        r = api.post(route, json={"keep": "prettiest"})
        assert r.status_code == 400 and "prettiest" in r.json()["error"]["message"]
        r = api.post("/collections/meaning/duplicates", json={})
        assert r.status_code == 400 and "duplicate" in r.json()["error"]["message"]

        deleted = api.post(route, json={"delete_copies": True}).json()
        assert deleted["deleted"] == len(copies)
        assert api.post(route, json={}).json()["clusters"] == []
        r = api.post("/collections/photos/search", json={"id": copies[0]})
        assert r.status_code == 404
