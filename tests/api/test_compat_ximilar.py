"""The Ximilar-style routes, driven by the published ``ximilar-client`` package against the
session's real server (and by hand where the client cannot send what is tested, in process)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from ximilar.client import ImageMatchingSearchClient, SimilarityPhotosClient

from lookalike import Engine, Settings
from tests.support.encoded import b64, file_b64, image_bytes
from tests.support.image_server import serving
from tests.support.server import WIRE_KEYS, Wire, in_process

CATEGORY = {
    "astronaut": "person",
    "camera": "person",
    "chelsea": "animal",
    "coffee": "food",
    "rocket": "object",
}
ANIMALS_AND_FOOD = {"chelsea", "coffee"}


@pytest.fixture(scope="module")
def compat_settings(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> Settings:
    return Settings(
        data_dir=tmp_path_factory.mktemp("ximilar") / "data",
        offline=True,
        default_model=str(tiny_model),
        default_signals=("semantic", "duplicate"),
        decode_workers=1,
        allow_private_urls=True,  # the image server of these tests is on loopback
    )


TOKEN = WIRE_KEYS[0]


@pytest.fixture(scope="module")
def base(wire: Wire) -> str:
    # the client skips its sign-in call to the hosted service for a localhost endpoint
    return wire.url.replace("127.0.0.1", "localhost")


@pytest.fixture(scope="module")
def http(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=60) as client:
        yield client


def client(base: str, collection: str | None, token: str = TOKEN) -> SimilarityPhotosClient:
    return SimilarityPhotosClient(token, collection, endpoint=f"{base}/similarity/photos/v2/")


def insert_photos(c: SimilarityPhotosClient, photo_files: Path) -> dict[str, Any]:
    records = [
        {"_id": name, "_file": str(photo_files / f"{name}.jpg"), "category": category}
        for name, category in CATEGORY.items()
    ]
    answer: dict[str, Any] = c.insert(records)
    return answer


@pytest.fixture(scope="module")
def filled(base: str, photo_files: Path) -> str:
    """A collection holding CATEGORY's photos, inserted by the client from local files."""
    name = f"photos-{uuid.uuid4().hex[:8]}"
    answer = insert_photos(client(base, name), photo_files)
    assert answer["status"] == {"code": 200, "text": "OK"}, answer
    return name


def test_insert_creates_the_collection_and_answers_each_record(
    base: str, photo_files: Path
) -> None:
    answer = insert_photos(client(base, f"new-{uuid.uuid4().hex[:8]}"), photo_files)
    assert answer["status"]["code"] == 200
    assert [r["_id"] for r in answer["records"]] == list(CATEGORY)
    assert answer["skipped_records"] == []
    # the default fields: the client keeps `_file` next to the base64 it sends; it comes back
    assert answer["records"][0]["_file"] == str(photo_files / "astronaut.jpg")
    assert "_base64" not in answer["records"][0]


def test_visual_knn_by_id_image_and_filter(base: str, filled: str, photo_files: Path) -> None:
    c = client(base, filled)
    by_id = c.search({"_id": "astronaut"}, k=3, fields_to_return=["_id", "category"])
    assert by_id["status"]["code"] == 200
    ids = [r["_id"] for r in by_id["answer_records"]]
    assert by_id["answer_count"] == len(ids) == len(by_id["answer_distances"]) == 3
    assert "astronaut" not in ids  # the query record itself is not its own neighbour
    assert all(r["category"] == CATEGORY[r["_id"]] for r in by_id["answer_records"])
    distances = by_id["answer_distances"]
    assert distances == sorted(distances) and all(0.0 <= d <= 1.0 for d in distances)

    # the client turns `_file` into base64 the same way it did on insert: the same image
    by_image = c.search({"_file": str(photo_files / "chelsea.jpg")}, k=1)
    assert by_image["answer_records"][0]["_id"] == "chelsea"
    assert by_image["answer_distances"][0] < 0.01

    several = c.post("visualKNN", data=c.construct_data(records=[{"_id": "chelsea"}], k=2))
    assert several["answer_count"] == 2
    assert "chelsea" not in {r["_id"] for r in several["answer_records"]}

    query = {"_file": str(photo_files / "rocket.jpg")}
    filtered = c.search(query, k=10, filter={"category": {"$in": ["animal", "food"]}})
    assert {r["_id"] for r in filtered["answer_records"]} == ANIMALS_AND_FOOD
    by_ids = c.search(query, k=10, filter={"_id": {"$in": ["coffee", "rocket"]}})
    assert {r["_id"] for r in by_ids["answer_records"]} == {"coffee", "rocket"}


def test_get_update_remove(base: str, photo_files: Path) -> None:
    c = client(base, f"crud-{uuid.uuid4().hex[:8]}")
    insert_photos(c, photo_files)
    got = c.get_records([{"_id": "coffee"}, {"_id": "missing"}], fields_to_return=["*"])
    assert [r["_id"] for r in got["answer_records"]] == ["coffee"]
    assert got["answer_records"][0]["category"] == "food"
    assert got["skipped_records"][0]["_id"] == "missing"
    assert got["skipped_records"][0]["_reason"]["status"]["code"] == 404

    updated = c.update([{"_id": "coffee", "price": 12}, {"_id": "missing", "price": 1}])
    assert updated["records"][0] == {
        "_id": "coffee",
        "_file": str(photo_files / "coffee.jpg"),
        "category": "food",  # fields are merged, not replaced
        "price": 12,
    }
    assert [r["_id"] for r in updated["skipped_records"]] == ["missing"]
    shown = c.get_records([{"_id": "coffee"}], fields_to_return=["price"])["answer_records"]
    assert shown == [{"_id": "coffee", "price": 12}]

    removed = c.remove([{"_id": "coffee"}, {"_id": "missing"}])
    assert removed["records"] == [{"_id": "coffee"}]
    assert removed["skipped_records"][0]["_reason"]["status"]["code"] == 404
    assert c.get_records([{"_id": "coffee"}])["answer_records"] == []
    gone = c.search({"_id": "coffee"})
    assert gone["status"]["code"] == 404 and "coffee" in gone["status"]["text"]


def test_all_records_pages_random_and_ping(base: str, filled: str) -> None:
    c = client(base, filled)
    iterated = [r["_id"] for r in c.all_records_iter(batch_size=2)]
    assert sorted(iterated) == sorted(CATEGORY)  # every record once, over three pages
    first = c.allRecords(size=2, page=1)
    assert len(first["answer_records"]) == 2 and first["next"] == "allRecords?size=2&page=2"
    assert "next" not in c.allRecords(size=2, page=3)
    assert c.allRecords(size=2, page=9)["answer_records"] == []
    assert sorted(r["_id"] for r in c.get_all_ids()["answer_records"]) == sorted(CATEGORY)
    animals = c.get_all_ids(fields=["category"], filterf={"category": "animal"})
    assert animals["answer_records"] == [{"_id": "chelsea", "category": "animal"}]

    drawn = c.random(count=2)["answer_records"]
    assert len(drawn) == 2 and len({r["_id"] for r in drawn}) == 2
    assert {r["_id"] for r in drawn} <= set(CATEGORY)
    assert sorted(r["_id"] for r in c.random(count=50)["answer_records"]) == sorted(CATEGORY)
    some = c.random(count=5, filter={"category": {"$in": ["animal", "food"]}})
    assert {r["_id"] for r in some["answer_records"]} == ANIMALS_AND_FOOD
    assert c.ping() == {"status": {"code": 200, "text": "OK"}}


def test_records_by_url(base: str, photo_files: Path) -> None:
    c = client(base, f"urls-{uuid.uuid4().hex[:8]}")
    with serving(photo_files) as images:
        rocket = f"{images}/rocket.jpg"
        answer = c.insert(
            [
                {"_id": "r", "_url": rocket, "kind": "url"},
                {"_id": "gone", "_url": f"{images}/no-such.jpg"},
            ]
        )
        assert answer["records"] == [{"_id": "r", "_url": rocket}]
        assert answer["skipped_records"][0]["_id"] == "gone"
        assert answer["skipped_records"][0]["_reason"]["status"]["code"] == 400
        found = c.search({"_url": rocket}, k=1, fields_to_return=["_url", "kind"])
    assert found["answer_records"] == [{"_id": "r", "_url": rocket, "kind": "url"}]
    assert found["answer_distances"][0] < 0.01
    assert found["query_record"] == {"_url": rocket}
    by_url = c.get_all_ids(filterf={"_url": rocket})["answer_records"]
    assert by_url == [{"_id": "r"}]


def _crop(src: Path, dst: Path) -> Path:
    im = Image.open(src).convert("RGB")
    w, h = im.size
    im.crop((w // 10, h // 10, w - w // 10, h - h // 10)).save(dst, quality=70)
    return dst


def test_image_matching_finds_copies(
    base: str, filled: str, photo_files: Path, tmp_path: Path
) -> None:
    matching = ImageMatchingSearchClient(TOKEN, filled, endpoint=f"{base}/image_matching/v2/")
    copy = _crop(photo_files / "chelsea.jpg", tmp_path / "chelsea-crop.jpg")
    found = matching.search({"_file": str(copy)}, k=3)
    assert found["answer_records"][0]["_id"] == "chelsea"

    def near(image: Path) -> dict[str, Any]:  # a verb of the hosted API the client lacks
        body = {"query_record": {"_base64": file_b64(image)}}
        headers = {"collection-id": filled, "Authorization": f"Token {TOKEN}"}
        answer: dict[str, Any] = httpx.post(
            f"{base}/image_matching/v2/nearDuplicates", json=body, headers=headers, timeout=60
        ).json()
        return answer

    assert [r["_id"] for r in near(copy)["answer_records"]] == ["chelsea"]
    stranger = photo_files / "motorcycle_left.jpg"  # not in the collection
    assert near(stranger)["answer_count"] == 0
    assert client(base, filled).search({"_file": str(stranger)}, k=3)["answer_count"] == 3


def test_errors_answer_with_a_status(
    base: str, http: httpx.Client, filled: str, photo_files: Path
) -> None:
    unknown = client(base, "no-such-collection").search({"_id": "x"})
    assert unknown["status"]["code"] == 404 and "no-such-collection" in unknown["status"]["text"]
    missing_header = client(base, None).search({"_id": "x"})
    assert missing_header["status"]["code"] == 400
    assert "collection-id" in missing_header["status"]["text"]
    zero_k = client(base, filled).search({"_id": "rocket"}, k=0)
    assert zero_k["status"]["code"] == 400 and zero_k["status"]["text"].startswith("k:")

    c = client(base, filled)
    not_image = b64(b"plain text, not an image")
    good = str(photo_files / "camera.jpg")
    mixed = c.insert(
        [
            {"_id": "bad", "_base64": not_image, "noresize": True},
            {"_id": "camera-2", "_file": good},
        ]
    )
    assert mixed["status"]["code"] == 200
    assert [r["_id"] for r in mixed["records"]] == ["camera-2"]
    assert mixed["skipped_records"][0]["_id"] == "bad"
    assert mixed["skipped_records"][0]["_reason"]["status"]["code"] == 400

    only_bad = c.insert([{"_id": "bad", "_base64": not_image, "noresize": True}])
    assert only_bad["status"]["code"] == 400 and only_bad["records"] == []
    assert only_bad["skipped_records"][0]["_id"] == "bad"

    # a path on the server is not read by a server without allowed_roots (the client sends
    # the file's bytes itself)
    for verb, body in (
        ("insert", {"records": [{"_id": "f", "_file": str(photo_files / "coffee.jpg")}]}),
        ("visualKNN", {"query_record": {"_file": str(photo_files / "coffee.jpg")}}),
    ):
        raw = _post(http, verb, filled, body)
        assert raw.status_code == 400 and raw.json()["error"]["code"] == "forbidden_path"
        text = raw.json()["status"]["text"]
        assert text.startswith("_file: ") and "no allowed_roots" in text


def _post(
    http: httpx.Client, verb: str, collection: str, body: dict[str, Any], token: str = TOKEN
) -> httpx.Response:
    """A request the client cannot send: its records' `_file` is always read on its side."""
    headers = {"collection-id": collection, "Authorization": f"Token {token}"}
    return http.post(f"/similarity/photos/v2/{verb}", json=body, headers=headers)


def test_a_server_without_keys_takes_any_token(compat_settings: Settings, tmp_path: Path) -> None:
    with in_process(compat_settings.replace(data_dir=tmp_path / "data")) as api:
        assert _post(api, "ping", "none", {}, token="any-token").json()["status"]["code"] == 200
        missing = _post(api, "visualKNN", "none", {"query_record": {"_id": "x"}}, token="any")
        assert missing.status_code == 404 and missing.json()["status"]["code"] == 404


def test_a_record_that_is_no_object_is_skipped_alone(
    compat_settings: Settings, tmp_path: Path
) -> None:
    not_objects = ["coffee", None, 3, ["coffee"]]
    kinds = ["a string", "null", "a number", "a list"]
    good = {"_id": "coffee", "_base64": b64(image_bytes("coffee")), "kind": "food"}
    with in_process(compat_settings.replace(data_dir=tmp_path / "data")) as api:
        for verb, records, kept in (
            ("insert", [not_objects[0], good, *not_objects[1:]], "records"),
            ("get", [*not_objects, {"_id": "coffee"}], "answer_records"),
            ("update", [*not_objects, {"_id": "coffee", "price": 2}], "records"),
            ("delete", [*not_objects, {"_id": "coffee"}], "records"),
        ):
            r = _post(api, verb, "mixed", {"records": records})
            assert r.status_code == 200, (verb, r.text)
            answer = r.json()
            assert answer["status"]["code"] == 200
            assert [rec["_id"] for rec in answer[kept]] == ["coffee"], (verb, answer)
            skipped = answer["skipped_records"]
            assert [s["_reason"]["status"] for s in skipped] == [
                {"code": 400, "text": f"each record must be a JSON object, not {kind}"}
                for kind in kinds
            ], verb
        assert (
            _post(api, "get", "mixed", {"records": [{"_id": "coffee"}]}).json()["answer_records"]
            == []
        )  # the delete above went through


def test_a_knn_record_that_is_no_object_fails_the_query_naming_it(
    compat_settings: Settings, tmp_path: Path
) -> None:
    records = [
        {"_id": name, "_base64": b64(image_bytes(name))} for name in ("coffee", "chelsea", "rocket")
    ]
    with in_process(compat_settings.replace(data_dir=tmp_path / "data")) as api:
        assert _post(api, "insert", "knn", {"records": records}).status_code == 200
        for verb in ("visualKNN", "visualTagsKNN", "nearDuplicates"):
            for bad, text in (
                (3, "each record must be a JSON object, not a number"),
                ("chelsea", "each record must be a JSON object, not a string"),
                (None, "each record must be a JSON object, not null"),
                ({"name": "chelsea"}, "record has no _id (a string)"),
            ):
                body = {"records": [{"_id": "coffee"}, bad], "k": 2}
                r = _post(api, verb, "knn", body)
                assert r.status_code == 400, (verb, r.text)
                answer = r.json()
                assert answer["status"] == {"code": 400, "text": f"records[1]: {text}"}, verb
                assert answer["error"]["code"] == "bad_input"
        # the records make one query: a good list is answered as a whole
        good = _post(api, "visualKNN", "knn", {"records": [{"_id": "coffee"}], "k": 2})
        assert good.status_code == 200 and good.json()["answer_count"] == 2


def test_file_paths_are_read_under_the_allowed_roots(
    compat_settings: Settings, photo_files: Path, tmp_path: Path
) -> None:
    root = tmp_path / "images"
    root.mkdir()
    for name in ("chelsea", "coffee"):
        shutil.copy(photo_files / f"{name}.jpg", root)
    (tmp_path / "outside.jpg").write_bytes((photo_files / "rocket.jpg").read_bytes())
    settings = compat_settings.replace(data_dir=tmp_path / "data", allowed_roots=(str(root),))
    records = [
        {"_id": "cat", "_file": "chelsea.jpg", "category": "animal"},  # relative to the root
        {"_id": "cup", "_file": str(root / "coffee.jpg")},
        {"_id": "out", "_file": "../outside.jpg"},
        {"_id": "none", "_file": "missing.jpg"},
        {"_id": "cat", "_file": "coffee.jpg"},  # an id given twice: the second fails alone
    ]
    with in_process(settings) as api:
        inserted = _post(api, "insert", "files", {"records": records}).json()
        assert [r["_id"] for r in inserted["records"]] == ["cat", "cup"]
        assert inserted["records"][0]["_file"] == "chelsea.jpg"  # kept as a field
        reasons = [(r["_id"], r["_reason"]["status"]) for r in inserted["skipped_records"]]
        assert [(rid, status["code"]) for rid, status in reasons] == [
            ("out", 400),
            ("none", 400),
            ("cat", 409),
        ]
        assert "outside the folders" in reasons[0][1]["text"]
        assert "no such file" in reasons[1][1]["text"]

        by_file = _post(api, "visualKNN", "files", {"query_record": {"_file": "chelsea.jpg"}})
        assert by_file.json()["answer_records"][0]["_id"] == "cat"
        assert by_file.json()["answer_distances"][0] < 0.01
        outside = {"query_record": {"_file": str(tmp_path / "outside.jpg")}}
        refused = _post(api, "visualKNN", "files", outside)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "forbidden_path"
    with Engine(settings) as engine:
        assert engine.collection("files").get("cat")["source"] == str(root / "chelsea.jpg")


def test_tokens_with_keys_and_existing_collections_keep_their_signals(
    wire: Wire, base: str, photo_files: Path
) -> None:
    short, long_key = WIRE_KEYS  # the client sends keys of 70 characters or more as "JWT <key>"
    assert len(long_key) >= 70
    existing, fresh = f"copies-only-{uuid.uuid4().hex[:8]}", f"fresh-{uuid.uuid4().hex[:8]}"
    wire.engine.create_collection(existing, signals="duplicate")
    records = [{"_id": "rocket", "_file": str(photo_files / "rocket.jpg")}]
    for token in (short, long_key):
        assert client(base, existing, token).ping()["status"]["code"] == 200
    refused = client(base, existing, "wrong").ping()
    assert refused["status"]["code"] == 403
    anonymous = httpx.post(f"{base}/similarity/photos/v2/ping")
    assert anonymous.status_code == 401 and anonymous.json()["status"]["code"] == 401
    assert client(base, existing, long_key).insert(records)["status"]["code"] == 200
    assert client(base, fresh, short).insert(records)["status"]["code"] == 200
    assert wire.engine.collection(existing).config["signals"] == ["duplicate"]
    assert wire.engine.collection(fresh).config["signals"] == list(wire.settings.default_signals)
    assert wire.engine.collection(existing).count() == 1
