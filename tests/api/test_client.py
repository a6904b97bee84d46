"""The Python SDK against the server, in process and over a real socket: the Engine's methods,
its answers and its errors, sync and async."""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from lookalike import Engine, Settings
from lookalike.client import AsyncClient, Client
from lookalike.client.wire import error_of
from lookalike.errors import (
    BadInput,
    Conflict,
    Forbidden,
    ImageTooLarge,
    InvalidFilter,
    LookalikeError,
    NotFound,
    StoreLocked,
    StoreUnavailable,
    Unauthorized,
)
from lookalike.sources import encode_png
from lookalike.types import Cluster, ClusterReport, Person, Progress, SearchResult
from tests.support.faces import face_folder
from tests.support.samples import PHOTO_NAMES, photo
from tests.support.server import IN_PROCESS, WIRE_KEYS, ApiClient, Wire, free_port, in_process


@pytest.fixture
def client(api: ApiClient) -> Iterator[Client]:
    with Client(IN_PROCESS, http=api.another()) as c:
        yield c


@pytest.fixture
def wire_client(wire: Wire) -> Iterator[Client]:
    """A client of the session's real server: requests over a socket."""
    with Client(wire.url, api_key=WIRE_KEYS[0]) as c:
        yield c


def _ranking(results: list[SearchResult]) -> list[tuple[str, float]]:
    return [(r.id, round(r.score, 5)) for r in results]


@pytest.mark.slow
def test_index_and_search_answer_as_the_local_engine_does(
    wire_client: Client, wire: Wire, photos: Path, tmp_path: Path
) -> None:
    seen: list[Progress] = []
    remote = wire_client.create_collection("pics")
    Image.open(photos / "coffee.jpg").resize((400, 300)).save(photos / "copy.jpg", quality=60)
    report = remote.index([photos], progress=seen.append)
    n = len(PHOTO_NAMES) + 1
    assert (report.indexed, report.failed) == (n, [])
    assert seen[-1].done == seen[-1].total == n and seen[-1].indexed == n
    again = remote.index([photos])
    assert (again.indexed, again.skipped) == (0, n)  # the server sees the same content

    local_settings = wire.settings.replace(data_dir=tmp_path / "local")
    with Engine(local_settings) as engine:
        local = engine.create_collection("pics")
        local.index([photos])
        for query in (
            {"image": photos / "coffee.jpg"},
            {"text": "a cup of coffee"},
            {"id": "rocket.jpg", "top_k": 3},
            {"text": "x", "filter": '{"id": {"$ne": "camera.jpg"}}'},
            {"image": photos / "rocket.jpg", "region": (0, 0, 200, 150), "top_k": 4},
            {"vector": np.linspace(-1.0, 1.0, remote.config["dims"]["semantic"])},
        ):
            assert _ranking(remote.search(**query)) == _ranking(local.search(**query)), query
        record, mine = remote.get("chelsea.jpg"), local.get("chelsea.jpg")
        for key in ("id", "metadata", "group", "width", "height", "format", "content_hash"):
            assert record[key] == mine[key], key
        info = remote.info()
        assert info["count"] == local.info()["count"] == n
        assert info["signals"] == ["semantic", "duplicate"]
        assert remote.copy_threshold == local.copy_threshold
        clusters = remote.duplicates()

        def links(found: list[Cluster]) -> list[tuple[Any, ...]]:
            return [
                (m.id, m.role, m.linked_to, m.inliers, m.hash_distance, m.region)
                for c in found
                for m in c.members
            ]

        assert links(clusters) == links(local.duplicates())
        assert [(c.keep, c.copies) for c in clusters] == [("coffee.jpg", ["copy.jpg"])]

    top = remote.search(image=photos / "coffee.jpg", top_k=1, scores=["duplicate"])[0]
    assert top.id == "coffee.jpg" and top.scores["duplicate"] >= 0.99
    as_bytes = remote.search(image=(photos / "chelsea.jpg").read_bytes(), top_k=1)
    assert as_bytes[0].id == "chelsea.jpg"
    assert remote.search(image=Image.open(photos / "rocket.jpg"), top_k=1)[0].id == "rocket.jpg"


def test_records_round_trip(client: Client, photos: Path) -> None:
    coll = client.create_collection("things", signals="duplicate", thumbnails=False)
    report = coll.add(
        [
            {"id": "space/rocket", "path": photos / "rocket.jpg", "metadata": {"price": 5}},
            {"id": "cat", "data": photo("chelsea"), "group": "pets"},  # a PIL image
            (photos / "coffee.jpg").read_bytes(),
            str(photos / "camera.jpg"),
            {"id": "broken", "data": b"\xff\xd8\xff\xe0 not really a jpeg"},
            photos / "missing.jpg",
        ]
    )
    assert report.indexed == 4
    assert sorted(f.code for f in report.failed) == ["bad_image", "bad_image"]
    assert any("missing.jpg" in f.source for f in report.failed)

    assert coll.get("space/rocket")["metadata"] == {"price": 5}  # an id with a slash
    assert coll.get("cat")["group"] == "pets"
    merged = coll.update("space/rocket", metadata={"kind": "space"}, merge=True)
    assert merged["metadata"] == {"price": 5, "kind": "space"}
    assert coll.count() == 4 and coll.count({"price": {"$lt": 10}}) == 1

    pages, offset, seen = 0, None, []
    while True:
        records, offset = coll.list_records(limit=3, offset=offset)
        seen += [r["id"] for r in records]
        pages += 1
        if offset is None:
            break
    assert pages == 2 and len(set(seen)) == 4

    assert coll.delete(["cat", "nope"]) == {"cat": True, "nope": False}
    with pytest.raises(NotFound, match="cat"):
        coll.get("cat")
    with pytest.raises(InvalidFilter):
        coll.count({"price": {"$regex": "x"}})
    with pytest.raises(InvalidFilter):
        coll.search(image=photos / "rocket.jpg", filter="{not json")
    with pytest.raises(NotFound, match="nowhere.jpg"):
        coll.search(image=photos / "nowhere.jpg")

    assert client.list_collections() == ["things"]
    with pytest.raises(Conflict):
        client.create_collection("things")
    assert client.create_collection("things", exist_ok=True).name == "things"
    with pytest.raises(Conflict, match="signals"):
        client.create_collection("things", signals="semantic", exist_ok=True)
    with pytest.raises(Conflict, match="thumbnails"):  # as the engine answers
        client.create_collection("things", exist_ok=True, thumbnails=True)
    client.drop_collection("things")
    with pytest.raises(NotFound):
        client.collection("things")


def test_url_batches_run_as_a_job_the_client_follows(client: Client) -> None:
    coll = client.create_collection("web", signals="duplicate")
    urls = [f"http://127.0.0.1:9/{i}.jpg" for i in range(5)]  # loopback: the server refuses
    seen: list[Progress] = []
    report = coll.add(urls, background=True, progress=seen.append)
    assert report.indexed == 0
    assert [f.code for f in report.failed] == ["forbidden_address"] * 5
    assert seen and seen[-1].done == 5
    jobs = client.jobs()
    assert len(jobs) == 1 and jobs[0]["status"] == "done"
    assert client.wait(jobs[0]["id"]).failed == report.failed


def test_uploads_over_the_body_limit_are_split_then_failed_alone(
    server_settings: Settings, photos: Path, tmp_path: Path
) -> None:
    sizes = sorted((photos / f"{n}.jpg").stat().st_size for n in PHOTO_NAMES)
    limit = sizes[-1] + 20_000  # each photo fits alone, no two together
    noise = Image.frombytes("RGB", (400, 400), random.Random(0).randbytes(400 * 400 * 3))
    big = tmp_path / "big.png"
    noise.save(big)
    assert big.stat().st_size > limit
    with (
        in_process(server_settings.replace(max_request_bytes=limit)) as api,
        Client(IN_PROCESS, http=api.another()) as c,
    ):
        coll = c.create_collection("p", signals="duplicate")
        report = coll.index([photos, big])
    assert report.indexed == len(PHOTO_NAMES)
    assert [(f.code, f.source) for f in report.failed] == [("too_large", str(big))]


def test_async_client(api: ApiClient, photos: Path) -> None:
    async def scenario() -> None:
        async with AsyncClient(IN_PROCESS, http=api.async_client()) as client:
            coll = await client.create_collection("a", signals="duplicate")
            report = await coll.add([photos / "rocket.jpg", photo("coffee")])
            assert report.indexed == 2
            rocket = "rocket.jpg"  # a file given by path is named by its file name
            hits = await coll.search(image=photos / rocket, top_k=1)
            assert hits[0].id == rocket and hits[0].score >= 0.99
            assert await coll.count() == 2
            assert (await coll.get(rocket))["width"] == photo("rocket").width
            assert await coll.delete([rocket]) == {rocket: True}
            assert await client.list_collections() == ["a"]
            with pytest.raises(NotFound):
                await client.collection("b")

    asyncio.run(scenario())


def test_api_keys(server_settings: Settings) -> None:
    with in_process(server_settings.replace(api_keys=("k1",))) as api:
        with Client(IN_PROCESS, http=api.another()) as anonymous, pytest.raises(Unauthorized):
            anonymous.list_collections()
        with Client(IN_PROCESS, api_key="k2", http=api.another()) as wrong:
            with pytest.raises(Forbidden):
                wrong.list_collections()
        with Client(IN_PROCESS, api_key="k1", http=api.another()) as good:
            assert good.list_collections() == []


def test_a_server_that_cannot_be_reached() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with Client(url) as c, pytest.raises(StoreUnavailable, match=url):
        c.list_collections()


def _response(status: int, **kwargs: object) -> httpx.Response:
    request = httpx.Request("GET", "http://127.0.0.1:1/x")
    return httpx.Response(status, request=request, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (409, {"error": {"code": "store_locked", "message": "m"}}, StoreLocked),
        (413, {"error": {"code": "too_large", "message": "m"}}, ImageTooLarge),
        (422, {"error": {"code": "validation_error", "message": "m"}}, BadInput),
        (404, {"error": {"code": "not_found", "message": "m"}}, NotFound),
        (500, {"error": {"code": "internal_error", "message": "m"}}, LookalikeError),
        (503, {"detail": "a body of another server"}, StoreUnavailable),
    ],
)
def test_error_bodies_become_the_core_classes(
    status: int, body: dict[str, object], expected: type[LookalikeError]
) -> None:
    error = error_of(_response(status, json=body))
    assert type(error) is expected
    assert error.status == expected.status


def test_a_page_that_is_not_json_is_named_in_the_error() -> None:
    error = error_of(_response(502, text="<html>Bad gateway</html>"))
    assert type(error) is LookalikeError
    assert "502" in error.message and "Bad gateway" in error.message


def test_pil_images_are_sent_losslessly() -> None:
    im = photo("astronaut")
    again = Image.open(io.BytesIO(encode_png(im)))
    assert again.tobytes() == im.tobytes()


def _answers(results: list[SearchResult]) -> list[dict[str, Any]]:
    """Results as JSON, but for ``source`` (an uploaded file's is ``upload:<path>``); ties in
    the order of their ids (each store breaks them its own way)."""
    ranked = sorted(results, key=lambda r: (-round(r.score, 6), r.id))
    return [{**r.to_dict(), "source": None} for r in ranked]


@pytest.mark.slow
def test_people_and_moderation_answer_as_the_local_engine_does(
    client: Client, api: ApiClient, server_settings: Settings, tmp_path: Path
) -> None:
    folder = face_folder(tmp_path / "faces", ("person_a_1", "person_a_2", "person_b_1", "group"))
    remote = client.create_collection("people", signals="duplicate,faces")
    assert remote.index([folder]).indexed == 4
    with Engine(server_settings.replace(data_dir=tmp_path / "local")) as engine:
        local = engine.create_collection("people", signals="duplicate,faces")
        local.index([folder])
        assert remote.people() == local.people() == []
        report, mine = remote.cluster_people(), local.cluster_people()
        assert isinstance(report, ClusterReport) and report.new_people == 3
        assert {**report.to_dict(), "seconds": 0} == {**mine.to_dict(), "seconds": 0}
        people = remote.people()
        assert people == local.people() and all(isinstance(p, Person) for p in people)
        a = next(p.id for p in people if p.sample == ["person_a_1.jpg", "person_a_2.jpg"])
        b = next(p.id for p in people if p.sample == ["group.jpg", "person_b_1.jpg"])
        c = next(p.id for p in people if p.id not in (a, b))

        assert remote.name_person(a, "Ada") == local.name_person(a, "Ada") == a
        with pytest.raises(Conflict, match="Ada"):
            remote.name_person(b, "ada")
        with pytest.raises(NotFound, match="nobody"):
            remote.name_person("nobody", "x")
        group = folder / "group.jpg"
        width, height = Image.open(group).size
        for query in (
            {"person": "ada"},
            {"person": b, "top_k": 1},
            {"image": group, "signal": "faces"},
            {"image": group, "signal": "faces", "face": 1},
            {"image": group, "signal": "faces", "box": (0, 0, width / 2, height)},
            {"id": "group.jpg", "signal": "faces", "face": 0},
        ):
            assert _answers(remote.search(**query)) == _answers(local.search(**query)), query
        assert all(r.match and r.match["name"] == "Ada" for r in remote.search(person=a))

        assert remote.merge_people([c, b], into=b) == b
        assert local.merge_people([c, b], into=b) == b
        faces = remote.get("group.jpg")["faces"]
        left = next(i for i, f in enumerate(faces) if f["box"][0] < 0.5)
        split = [("group.jpg", left)]
        assert remote.split_person(b, split) == local.split_person(b, split)
        assert remote.people() == local.people()
        with pytest.raises(BadInput):
            remote.split_person("Ada", ["person_b_1.jpg"])

        verdict = client.moderate(folder / "person_b_1.jpg")
        assert verdict == engine.moderate(folder / "person_b_1.jpg")
        assert verdict["labels"] and remote.moderate(group.read_bytes()) == local.moderate(group)

        async def the_same_with_await() -> None:
            async with AsyncClient(IN_PROCESS, http=api.async_client()) as aclient:
                acoll = await aclient.collection("people")
                assert await acoll.people() == local.people()
                assert await acoll.name_person("Ada", None) == a
                found = await acoll.search(person=a)
                assert {r.id for r in found} == {"person_a_1.jpg", "person_a_2.jpg"}
                assert (await acoll.cluster_people()).faces == 0  # nothing new to group
                assert await aclient.moderate(group) == engine.moderate(group)

        asyncio.run(the_same_with_await())
    assert all(p.name is None for p in remote.people())


def test_on_unsafe_is_a_collection_setting_as_in_the_engine(client: Client) -> None:
    with pytest.raises(BadInput, match="moderation"):
        client.create_collection("m", signals="duplicate", on_unsafe="flag")
    with pytest.raises(BadInput, match="on_unsafe"):
        client.create_collection("m", signals="duplicate,moderation", on_unsafe="maybe")  # type: ignore[arg-type]
    coll = client.create_collection("m", signals="duplicate,moderation", on_unsafe="reject")
    assert coll.config["on_unsafe"] == "reject"
    again = client.create_collection("m", exist_ok=True, on_unsafe="reject")
    assert again.config["on_unsafe"] == "reject"
    with pytest.raises(Conflict, match="on_unsafe"):
        client.create_collection("m", exist_ok=True, on_unsafe="flag")


def _backup_round_trip(client: Client, photos: Path, tmp_path: Path) -> None:
    """The sync half of the backup test; the async half does the same with ``await``."""
    coll = client.create_collection("kept", signals="duplicate")
    coll.index([photos])
    file = tmp_path / "sync.backup"
    made = client.backup("kept", file)
    assert (made.collection, made.records) == ("kept", len(PHOTO_NAMES))
    assert made.bytes == file.stat().st_size > 0
    restored = client.restore(file, name="copy")
    assert (restored.collection, restored.total) == ("copy", len(PHOTO_NAMES))
    assert client.collection("copy").get("rocket.jpg") == coll.get("rocket.jpg")


def test_backup_and_restore_sync_and_async(api: ApiClient, photos: Path, tmp_path: Path) -> None:
    with Client(IN_PROCESS, http=api.another()) as client:
        _backup_round_trip(client, photos, tmp_path)

    async def scenario() -> None:
        async with AsyncClient(IN_PROCESS, http=api.async_client()) as client:
            file = tmp_path / "async.backup"
            made = await client.backup("kept", file)
            assert (made.collection, made.records) == ("kept", len(PHOTO_NAMES))
            assert file.read_bytes()[:2] == b"\x1f\x8b"  # one gzip file
            restored = await client.restore(file, name="again")
            assert (restored.collection, restored.total) == ("again", len(PHOTO_NAMES))
            again, kept = await client.collection("again"), await client.collection("kept")
            assert await again.get("rocket.jpg") == await kept.get("rocket.jpg")
            with pytest.raises(Conflict):
                await client.restore(file, name="again")  # holds records: overwrite=True
            replaced = await client.restore(file, name="again", overwrite=True)
            assert replaced.total == len(PHOTO_NAMES)
            missing = tmp_path / "missing.backup"
            with pytest.raises(NotFound):
                await client.backup("nope", missing)
            assert not missing.exists() and not (tmp_path / "missing.backup.partial").exists()
            damaged = tmp_path / "damaged.backup"
            damaged.write_bytes(file.read_bytes()[:-100])
            with pytest.raises(LookalikeError):
                await client.restore(damaged, name="broken")
            with pytest.raises(BadInput):
                await client.restore(tmp_path / "no-such-file", name="x")

    asyncio.run(scenario())


def test_a_file_added_by_path_gets_one_id_everywhere(
    api: ApiClient, photos: Path, server_settings: Settings, tmp_path: Path
) -> None:
    """The CLI, the Python API and the SDK name a file given on its own by its file name; a
    record given as an object keeps its ``path`` as written (as a catalog line and a REST item
    do)."""
    from lookalike.sources import iter_items

    target = photos / "rocket.jpg"
    cli = [i.id for i in iter_items([str(target)], max_bytes=1 << 24)]  # what the CLI lists
    with Engine(server_settings.replace(data_dir=tmp_path / "local")) as engine:
        local = engine.create_collection("ids", signals="duplicate", thumbnails=False)
        local.add([target])
        local.index([str(target)])
        local.add([{"path": str(target)}])
        local_ids = sorted(r["id"] for r in local.list_records(limit=10)[0])
    with Client(IN_PROCESS, http=api.another()) as client:
        remote = client.create_collection("ids", signals="duplicate", thumbnails=False)
        remote.add([target])
        remote.add([str(target)])
        remote.index([target])
        remote.add([{"id": "as-object", "data": target.read_bytes()}])
        remote_ids = sorted(r["id"] for r in remote.list_records(limit=10)[0])
    assert cli == ["rocket.jpg"]
    assert local_ids == sorted(["rocket.jpg", str(target)])  # the dict keeps its path
    assert remote_ids == ["as-object", "rocket.jpg"]
