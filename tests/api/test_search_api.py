"""Search, health and metrics through the server (in process), on a collection of real photos."""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from PIL import Image

from lookalike.admission import copy_searches
from lookalike.config import Settings
from tests.support.encoded import b64, encode, file_b64
from tests.support.image_server import serving
from tests.support.photo_collection import KINDS, index_photos, record_id
from tests.support.samples import PHOTO_NAMES
from tests.support.server import ApiClient, in_process


@dataclass
class Served:
    api: ApiClient
    settings: Settings
    vectors: dict[str, list[float]]
    folder: Path


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, photo_files: Path
) -> Iterator[Served]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("search-api") / "data",
        offline=True,
        default_model=str(tiny_model),
        decode_workers=1,
    )
    vectors = index_photos(settings, photo_files, thumbnails=False)
    with in_process(settings) as api:
        yield Served(api, settings, vectors, photo_files)


def _search(served: Served, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    r = served.api.post("/collections/photos/search", json=body)
    assert r.status_code == status, r.text
    data: dict[str, Any] = r.json()
    return data


def _ids(data: dict[str, Any]) -> list[str]:
    return [hit["id"] for hit in data["results"]]


def test_image_as_base64_finds_itself_first_with_both_scores_when_asked(served: Served) -> None:
    image = file_b64(served.folder / "chelsea.jpg")
    data = _search(served, {"image_base64": image, "top_k": 5, "scores": ["duplicate"]})
    hits = data["results"]
    assert len(hits) == 5 and data["took_ms"] > 0
    assert hits[0]["id"] == record_id("chelsea") and hits[0]["score"] >= 0.99
    assert set(hits[0]["scores"]) == {"semantic", "duplicate"}
    unasked = _search(served, {"image_base64": image, "top_k": 5})["results"]
    assert [(h["id"], h["score"], h["scores"]["semantic"]) for h in unasked] == [
        (h["id"], h["score"], h["scores"]["semantic"]) for h in hits
    ]
    assert all(set(h["scores"]) == {"semantic"} for h in unasked)
    assert hits[0]["metadata"]["kind"] == "animal" and hits[0]["group"] == "animal"
    scores = [h["score"] for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all("thumbnail_url" not in h for h in hits)  # this collection keeps none


def test_upload_gives_the_same_results_as_base64(served: Served) -> None:
    path = served.folder / "coffee.jpg"
    by_json = _search(
        served, {"image_base64": file_b64(path), "top_k": 4, "filter": {"n": {"$gt": 0}}}
    )
    r = served.api.post(
        "/collections/photos/search/upload",
        files={"image": ("coffee.jpg", path.read_bytes(), "image/jpeg")},
        data={"query": '{"top_k": 4, "filter": {"n": {"$gt": 0}}}'},
    )
    assert r.status_code == 200, r.text
    assert _ids(r.json()) == _ids(by_json)
    assert [h["score"] for h in r.json()["results"]] == [h["score"] for h in by_json["results"]]
    assert len(by_json["results"]) == 4


def test_record_id_query_leaves_the_record_out(served: Served) -> None:
    rid = record_id("rocket")
    ids = _ids(_search(served, {"id": rid, "top_k": 20}))
    assert rid not in ids
    assert sorted(ids) == sorted(record_id(n) for n in PHOTO_NAMES if n != "rocket")


def test_text_query_scores_only_semantic(served: Served) -> None:
    hits = _search(served, {"text": "a cat on a sofa", "top_k": 3})["results"]
    assert len(hits) == 3
    assert all(set(h["scores"]) == {"semantic"} for h in hits)


def test_raw_vector_query_finds_its_record(served: Served) -> None:
    rid = record_id("retina")
    hits = _search(served, {"vector": served.vectors[rid], "top_k": 2})["results"]
    assert hits[0]["id"] == rid and hits[0]["score"] >= 0.99
    r = served.api.post("/collections/photos/search", json={"vector": [0.5, 0.5]})
    assert r.status_code == 400 and "needs" in r.json()["error"]["message"]


def test_filter_group_threshold_and_top_k(served: Served) -> None:
    query = file_b64(served.folder / "astronaut.jpg")
    hits = _search(served, {"image_base64": query, "filter": {"kind": "space"}})["results"]
    assert {h["id"] for h in hits} == {record_id("rocket"), record_id("hubble_deep_field")}
    grouped = _search(served, {"image_base64": query, "group": True, "top_k": 20})["results"]
    groups = [h["group"] for h in grouped]
    assert sorted(groups) == sorted(set(KINDS.values()))
    everything = _search(served, {"image_base64": query, "top_k": 20})["results"]
    cut = everything[2]["score"]
    above = _search(served, {"image_base64": query, "top_k": 20, "threshold": cut})["results"]
    assert [h["id"] for h in above] == [h["id"] for h in everything if h["score"] >= cut]


def test_positive_and_negative_examples(served: Served) -> None:
    pos, neg = record_id("chelsea"), record_id("camera")
    hits = _search(served, {"positive": [pos], "negative": [neg], "top_k": 20})["results"]
    ids = [h["id"] for h in hits]
    assert pos not in ids and neg not in ids and len(ids) == len(PHOTO_NAMES) - 2
    r = served.api.post("/collections/photos/search", json={"positive": ["no-such-id"]})
    assert r.status_code == 404 and "no-such-id" in r.json()["error"]["message"]


def test_examples_take_weights_and_bad_weights_are_refused(served: Served) -> None:
    pos, other, neg = record_id("chelsea"), record_id("rocket"), record_id("camera")
    plain = _search(served, {"positive": [pos, other], "negative": [neg], "top_k": 20})
    weighted = _search(
        served,
        {"positive": [pos, {"id": other, "weight": 4}], "negative": [neg], "top_k": 20},
    )
    ids = [h["id"] for h in weighted["results"]]
    assert {pos, other, neg}.isdisjoint(ids) and len(ids) == len(PHOTO_NAMES) - 3
    assert [h["score"] for h in weighted["results"]] != [h["score"] for h in plain["results"]]
    for bad in ({"id": other, "weight": 0}, {"id": other, "weight": -1}, {"id": other, "x": 1}):
        r = served.api.post("/collections/photos/search", json={"positive": [pos, bad]})
        assert r.status_code == 422, bad


def test_region_searches_only_that_part_of_the_query(served: Served) -> None:
    left = Image.open(served.folder / "motorcycle_left.jpg").convert("RGB")
    right = Image.open(served.folder / "coffee.jpg").convert("RGB").resize(left.size)
    canvas = Image.new("RGB", (left.width * 2, left.height))
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width, 0))
    query = b64(encode(canvas, "PNG"))
    for box, wanted in (
        ([0, 0, left.width, left.height], "motorcycle_left"),
        ([left.width, 0, left.width * 2, left.height], "coffee"),
    ):
        hits = _search(served, {"image_base64": query, "region": box, "top_k": 1})["results"]
        assert hits[0]["id"] == record_id(wanted) and hits[0]["scores"]["semantic"] >= 0.9
    as_fractions = {"image_base64": query, "region": [0.5, 0, 1, 1], "top_k": 1}
    assert _search(served, as_fractions)["results"][0]["id"] == record_id("coffee")
    outside = {"image_base64": query, "region": [0, 0, left.width * 3, 10]}
    assert _search(served, outside, 400)["error"]["code"] == "bad_input"


def test_duplicate_signal_reports_the_matched_region(served: Served, tmp_path: Path) -> None:
    im = Image.open(served.folder / "astronaut.jpg").convert("RGB")
    im = im.crop((40, 40, im.width - 40, im.height - 40)).resize((300, 300))
    copy = tmp_path / "copy.jpg"
    im.save(copy, quality=40)
    hits = _search(served, {"image_base64": file_b64(copy), "signal": "duplicate", "top_k": 2})[
        "results"
    ]
    assert hits[0]["id"] == record_id("astronaut") and hits[0]["score"] >= 0.75
    assert hits[0]["match"]["inliers"] >= 8 and len(hits[0]["match"]["query_box"]) == 4


def test_image_url_takes_only_http_urls(served: Served) -> None:
    path = str(served.folder / "rocket.jpg")
    for url in (path, f"file://{path}", "rocket.jpg", "ftp://example.com/a.jpg"):
        error = _search(served, {"image_url": url}, 422)["error"]
        assert error["message"].startswith("body.image_url: Value error, must be an http"), url
    error = _search(served, {"image_url": "http://127.0.0.1:9/x.jpg"}, 400)["error"]
    assert error["code"] == "forbidden_address"


def test_image_url_is_fetched_from_an_allowed_network(
    server_settings: Settings, photo_files: Path
) -> None:
    index_photos(server_settings, photo_files)
    allowed = server_settings.replace(allowed_networks=("127.0.0.0/8",))
    with serving(photo_files) as images, in_process(allowed) as api:
        r = api.post(
            "/collections/photos/search",
            json={"image_url": images.replace("http://", "HTTP://") + "/chelsea.jpg"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["results"][0]["id"] == record_id("chelsea")


def test_thumbnail_urls_when_the_collection_keeps_thumbnails(
    server_settings: Settings, photo_files: Path
) -> None:
    index_photos(server_settings, photo_files)

    def keep_thumbnails(app: FastAPI) -> None:
        app.state.lookalike.engine.collection("photos").config["thumbnails"] = True

    with in_process(server_settings, setup=keep_thumbnails) as api:
        r = api.post("/collections/photos/search", json={"text": "x", "top_k": 20})
        hits = r.json()["results"]
    assert len(hits) == len(PHOTO_NAMES)
    for h in hits:
        assert h["thumbnail_url"] == f"/collections/photos/thumbnails/{quote(h['id'], safe='')}"
        assert "%2F" in h["thumbnail_url"]


def test_health_reports_models_without_loading_them(
    server_settings: Settings, photo_files: Path
) -> None:
    index_photos(server_settings, photo_files)
    index_photos(server_settings, photo_files, name="hashes", signals="duplicate")
    with in_process(server_settings) as api:
        before = api.get("/health").json()
        assert before["status"] == "ok" and before["store"]["collections"] == 2
        assert before["collections"]["photos"]["model_status"] == "available"
        assert before["collections"]["hashes"] == {
            "signals": ["duplicate"],
            "model": None,
            "model_status": "none",
        }
        api.post("/collections/photos/search", json={"text": "a rocket"})
        after = api.get("/health").json()
        assert after["collections"]["photos"]["model_status"] == "loaded"


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for m in re.finditer(rf"^{name}(?:\{{(.*?)\}})? (\S+)$", text, re.MULTILINE):
        labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(1) or "")))
        found[labels] = float(m.group(2))
    return found


def test_metrics_count_requests_sizes_and_ingest(
    server_settings: Settings, photo_files: Path
) -> None:
    index_photos(server_settings, photo_files)
    with in_process(server_settings) as api:
        for _ in range(3):
            api.post("/collections/photos/search", json={"text": "x"})
        api.post("/collections/photos/search", json={"text": ""})
        api.get("/no/such/path")
        api.get("/openapi.json")
        collection = api.app.state.lookalike.engine.collection("photos")
        report = collection.add([{"id": "again", "path": str(photo_files / "coffee.jpg")}])
        r = api.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    requests = _samples(r.text, "lookalike_http_requests_total")
    route = (("method", "POST"), ("route", "/collections/{name}/search"))
    assert requests[(*route, ("status", "200"))] == 3
    assert requests[(*route, ("status", "422"))] == 1
    assert requests[(("method", "GET"), ("route", "unmatched"), ("status", "404"))] == 1
    assert requests[(("method", "GET"), ("route", "/openapi.json"), ("status", "200"))] == 1
    histogram = _samples(r.text, "lookalike_http_request_duration_seconds_count")
    assert histogram[route] == 4
    buckets = _samples(r.text, "lookalike_http_request_duration_seconds_bucket")
    assert buckets[(("le", "+Inf"), *route)] == 4
    records = _samples(r.text, "lookalike_collection_records")
    assert records[(("collection", "photos"),)] == len(PHOTO_NAMES) + 1
    indexed = _samples(r.text, "lookalike_records_indexed_total")
    assert indexed[(("collection", "photos"),)] == report.indexed == 1
    rate = _samples(r.text, "lookalike_ingest_rate")
    assert rate[(("collection", "photos"),)] == pytest.approx(report.rate, rel=1e-6)
    items = _samples(r.text, "lookalike_ingest_items_total")
    assert items[(("collection", "photos"), ("outcome", "indexed"))] == 1
    assert items[(("collection", "photos"), ("outcome", "failed"))] == 0
    assert _samples(r.text, "process_resident_memory_bytes")[()] > 10_000_000  # for free
    assert _samples(r.text, "process_open_fds")[()] > 0
    assert "lookalike_jobs" in r.text and "_created" not in r.text


def test_a_search_tells_where_its_time_went(served: Served) -> None:
    body = {"image_base64": file_b64(served.folder / "coffee.jpg"), "signal": "duplicate"}
    r = served.api.post("/collections/photos/search", json=body)
    assert r.status_code == 200, r.text
    stages = dict(part.split(";dur=") for part in r.headers["server-timing"].split(", "))
    assert {"base64", "decode", "embed", "store", "queue", "verify", "search"} <= set(stages)
    assert all(float(ms) >= 0 for ms in stages.values())
    assert float(stages["search"]) >= float(stages["verify"])


def test_a_copy_search_beyond_the_queue_is_refused_at_once_with_retry_after(
    served: Served,
) -> None:
    gate = copy_searches(served.settings.copy_searches, served.settings.copy_queue)
    release = threading.Event()
    holding = threading.Semaphore(0)

    def hold() -> None:
        with gate.hold():
            holding.release()
            release.wait(30)

    def wait_in_line() -> None:
        with gate.hold():
            pass

    running = [threading.Thread(target=hold) for _ in range(gate.running)]
    for t in running:
        t.start()
    assert all(holding.acquire(timeout=10) for _ in running)  # every turn taken
    queued = [threading.Thread(target=wait_in_line) for _ in range(gate.waiting)]
    for t in queued:
        t.start()
    try:
        deadline = time.monotonic() + 10
        while gate.peak_waiting < gate.waiting and time.monotonic() < deadline:
            time.sleep(0.01)
        body = {"image_base64": file_b64(served.folder / "coffee.jpg"), "signal": "duplicate"}
        refused = served.api.post("/collections/photos/search", json=body)
        by_id = _search(served, {"id": record_id("coffee"), "signal": "semantic"})
    finally:
        release.set()
        for t in [*running, *queued]:
            t.join(30)
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "busy"
    assert int(refused.headers["retry-after"]) >= 1
    assert by_id["results"]  # other queries are not held up by the copy searches' queue
    again = served.api.post("/collections/photos/search", json=body)
    assert again.status_code == 200 and again.json()["results"][0]["id"] == record_id("coffee")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice per thread: Linux")
def test_inserts_and_image_searches_run_at_lower_priority_id_and_text_do_not(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    lane = served.api.app.state.lookalike.engine.lane
    assert lane is not None and lane.nice == served.settings.heavy_nice == 10
    ran: list[int] = []
    hand_over = lane.run

    def run(fn: Any, *args: Any, **kwargs: Any) -> Any:
        def watched() -> Any:
            ran.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
            return fn(*args, **kwargs)

        return hand_over(watched)

    monkeypatch.setattr(lane, "run", run)
    _search(served, {"id": record_id(PHOTO_NAMES[0])})
    _search(served, {"text": "a photo"})
    assert ran == []
    photo = file_b64(served.folder / f"{PHOTO_NAMES[0]}.jpg")
    assert _ids(_search(served, {"image_base64": photo}))[0] == record_id(PHOTO_NAMES[0])
    r = served.api.post(
        "/collections/photos/records", json={"items": [{"id": "lane/1", "base64": photo}]}
    )
    assert r.status_code == 200 and r.json()["indexed"] == 1, r.text
    assert (
        served.api.delete(f"/collections/photos/records/{quote('lane/1', safe='')}").status_code
        == 200
    )
    assert len(ran) == 2 and min(ran) >= 10
