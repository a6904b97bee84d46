"""What the engine needs from a store, asserted on every backend (see conftest's BACKENDS)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from lookalike.errors import BadInput, ConfigChanged, Conflict, NotFound
from lookalike.filters import And, HasIds, Match, Not, Or, parse_filter
from lookalike.payload import COPY_ONLY, RETRIEVE_ONLY, THUMBNAIL
from lookalike.store import CollectionStore, Store
from lookalike.store.base import (
    MultiVector,
    SparseVector,
    StoredPoint,
    VectorQuery,
    VectorSpec,
    revision,
    scroll_all,
    whole_pages,
)
from lookalike.store.schema import SCHEMA_VERSION, VERSION_KEY
from tests.integration.test_edge_filter import CASES, ID_CASES, RECORDS, expected_ids
from tests.store.conftest import StoreFactory

SPECS = [
    VectorSpec("v", 4),
    VectorSpec("text", 0, sparse=True),
    VectorSpec("faces", 3, multivector=True),
]
CONFIG = {"signals": ["semantic"], "model": "m", "dims": {"v": 4}}


def unit(*xs: float) -> list[float]:
    norm = math.sqrt(sum(x * x for x in xs))
    return [x / norm for x in xs]


def point(rid: str, v: list[float], **payload: Any) -> StoredPoint:
    return StoredPoint(id=rid, payload=payload, vectors={"v": v})


@pytest.fixture
def coll(store: Store) -> Iterator[CollectionStore]:
    store.create_collection("c", SPECS, CONFIG)
    opened = store.open_collection("c")
    yield opened
    opened.close()


def test_collections_are_created_listed_and_dropped(store: Store) -> None:
    assert store.list_collections() == []
    store.create_collection("b", SPECS, CONFIG)
    store.create_collection("a", SPECS, CONFIG)
    assert store.list_collections() == ["a", "b"]
    with pytest.raises(Conflict):
        store.create_collection("a", SPECS, CONFIG)
    store.drop_collection("a")
    assert store.list_collections() == ["b"]
    with pytest.raises(NotFound):
        store.open_collection("a")
    with pytest.raises(NotFound):
        store.drop_collection("a")
    with pytest.raises(BadInput):
        store.create_collection("../x", SPECS, CONFIG)


def test_configuration_and_schema_version_are_kept(make_store: StoreFactory) -> None:
    store = make_store()
    store.create_collection("c", SPECS, CONFIG)
    coll = store.open_collection("c")
    config = coll.config()
    assert {k: config[k] for k in CONFIG} == CONFIG
    assert config[VERSION_KEY] == SCHEMA_VERSION
    assert [v["name"] for v in config["vectors"]] == ["v", "text", "faces"]
    changed = coll.update_config({"people": {"next": 3, "names": {"1": "Ada"}}})
    assert changed["people"] == {"next": 3, "names": {"1": "Ada"}}
    assert changed["signals"] == CONFIG["signals"]
    coll.close()
    store.close()
    again = make_store().open_collection("c")
    assert again.config()["people"] == {"next": 3, "names": {"1": "Ada"}}
    assert again.count() == 0  # the configuration is not a record
    again.close()


def test_a_version_2_collection_records_that_its_semantic_input_was_shared(
    make_store: StoreFactory,
) -> None:
    store = make_store()
    for name, signals in (("sem", ["semantic", "duplicate"]), ("dup", ["duplicate"])):
        store.create_collection(name, SPECS, {**CONFIG, "signals": signals})
        made = store.open_collection(name)
        made.update_config({VERSION_KEY: 2})  # as version 2 made it: no semantic_input
        made.close()
    store.close()
    again = make_store()
    semantic, duplicate = again.open_collection("sem"), again.open_collection("dup")
    assert semantic.config()[VERSION_KEY] == duplicate.config()[VERSION_KEY] == SCHEMA_VERSION
    assert semantic.config()["semantic_input"] == "shared"
    assert "semantic_input" not in duplicate.config()  # no semantic signal, nothing to record
    semantic.close()
    duplicate.close()
    again.close()


def test_a_configuration_change_on_a_stale_revision_is_refused(coll: CollectionStore) -> None:
    read = revision(coll.config())
    first = coll.update_config({"people": {"next": 2}}, expect=read)
    assert revision(first) == read + 1
    with pytest.raises(ConfigChanged):  # made on the revision read before the first change
        coll.update_config({"people": {"next": 9}}, expect=read)
    assert coll.config()["people"] == {"next": 2}
    merged = coll.update_config({"note": "kept"})  # no revision asked: merged into the newest
    assert merged["people"] == {"next": 2} and revision(merged) == read + 2


def test_a_collection_of_a_newer_schema_is_refused(make_store: StoreFactory) -> None:
    store = make_store()
    store.create_collection("c", SPECS, CONFIG)
    coll = store.open_collection("c")
    coll.update_config({VERSION_KEY: SCHEMA_VERSION + 1})
    coll.close()
    store.close()
    with pytest.raises(Conflict) as caught:
        make_store().open_collection("c")
    assert str(SCHEMA_VERSION + 1) in caught.value.message
    assert str(SCHEMA_VERSION) in caught.value.message


def test_upsert_retrieve_set_payload_delete(coll: CollectionStore) -> None:
    sparse = SparseVector([3, 17], [0.5, 1.5])
    faces = MultiVector([unit(1, 0, 0), unit(0, 1, 0)])
    coll.upsert(
        [
            StoredPoint("a", {"group": "g", "metadata": {"k": 1}}, {"v": unit(1, 0, 0, 0)}),
            StoredPoint("b", {}, {"v": unit(0, 1, 0, 0), "text": sparse, "faces": faces}),
        ]
    )
    assert coll.count() == 2
    got = {p.id: p for p in coll.retrieve(["a", "b", "missing"], with_vectors=True)}
    assert set(got) == {"a", "b"}
    assert got["a"].payload["group"] == "g" and got["a"].payload["metadata"] == {"k": 1}
    assert got["a"].vectors["v"] == pytest.approx(unit(1, 0, 0, 0))
    b = got["b"].vectors
    assert isinstance(b["text"], SparseVector)
    assert dict(zip(b["text"].indices, b["text"].values, strict=True)) == {3: 0.5, 17: 1.5}
    assert isinstance(b["faces"], MultiVector) and len(b["faces"].vectors) == 2
    assert b["faces"].vectors[1] == pytest.approx(unit(0, 1, 0))
    assert coll.retrieve(["a"])[0].vectors == {}
    coll.set_payload(["a"], {"metadata": {"k": 2}, "extra": True})
    after = coll.retrieve(["a"])[0].payload
    assert after["metadata"] == {"k": 2} and after["extra"] is True and after["group"] == "g"
    coll.upsert([point("a", unit(0, 0, 1, 0), source="new")])  # a write replaces the record
    assert "group" not in coll.retrieve(["a"])[0].payload
    coll.delete(["a", "missing"])
    assert [p.id for p in coll.retrieve(["a", "b"])] == ["b"]
    assert coll.count() == 1


def test_reads_return_only_the_vectors_named(coll: CollectionStore) -> None:
    """A search scoring with one vector asks for that one; the sparse and multivectors beside
    it are not read (each read vector costs the caller Python objects)."""
    sparse, faces = SparseVector([3], [1.0]), MultiVector([unit(1, 0, 0)])
    coll.upsert([StoredPoint("a", {}, {"v": unit(1, 0, 0, 0), "text": sparse, "faces": faces})])
    query = VectorQuery("v", unit(1, 0, 0, 0))
    assert set(coll.search(query, limit=1, with_vectors=["v"])[0].vectors) == {"v"}
    assert set(coll.search_batch([query], limit=1, with_vectors=["faces"])[0][0].vectors) == {
        "faces"
    }
    assert set(coll.retrieve(["a"], with_vectors=["text", "v"])[0].vectors) == {"text", "v"}
    page, _ = coll.scroll(limit=1, with_vectors=["v"])
    assert set(page[0].vectors) == {"v"}
    assert coll.search(query, limit=1, with_vectors=[])[0].vectors == {}
    assert set(coll.retrieve(["a"], with_vectors=True)[0].vectors) == {"v", "text", "faces"}


def test_bulky_fields_come_only_with_retrieve(coll: CollectionStore) -> None:
    bulky = dict.fromkeys(RETRIEVE_ONLY, "AAAA")
    coll.upsert([point("a", unit(1, 0, 0, 0), source="s", **bulky)])
    assert {k: coll.retrieve(["a"])[0].payload[k] for k in bulky} == bulky
    hit = coll.search(VectorQuery("v", unit(1, 0, 0, 0)), limit=1)[0]
    assert not bulky.keys() & hit.payload.keys() and hit.payload["source"] == "s"
    page, _ = coll.scroll(limit=10)
    assert not bulky.keys() & page[0].payload.keys()


def test_copy_only_fields_come_with_a_search_that_asks_for_them(coll: CollectionStore) -> None:
    heavy = dict.fromkeys(COPY_ONLY, "KP")
    coll.upsert([point("a", unit(1, 0, 0, 0), source="s", **heavy)])
    query = VectorQuery("v", unit(1, 0, 0, 0))
    light = coll.search(query, limit=1)[0].payload
    assert not heavy.keys() & light.keys() and light["source"] == "s"
    full = coll.search(query, limit=1, full_payload=True)[0].payload
    assert {k: full[k] for k in heavy} == heavy and THUMBNAIL not in full
    [[batch_light], [batch_full]] = [
        coll.search_batch([query], limit=1, full_payload=f)[0] for f in (False, True)
    ]
    assert not heavy.keys() & batch_light.payload.keys()
    assert {k: batch_full.payload[k] for k in heavy} == heavy
    page, _ = coll.scroll(limit=10)  # scroll and retrieve keep them
    assert page[0].payload.keys() >= heavy.keys()
    assert coll.retrieve(["a"])[0].payload.keys() >= heavy.keys()


def test_whole_pages_read_every_point_whole_in_scroll_order(coll: CollectionStore) -> None:
    coll.upsert(
        [point(f"p{i}", unit(1, i, 0, 0), **{THUMBNAIL: f"k{i}", "n": i}) for i in range(7)]
    )
    pages = list(whole_pages(coll, page=3))
    assert [len(p) for p in pages] == [3, 3, 1]
    flat = [p for page in pages for p in page]
    scrolled = [p.id for p in scroll_all(coll, page=3)]
    assert [p.id for p in flat] == scrolled and sorted(scrolled) == [f"p{i}" for i in range(7)]
    assert all(p.payload[THUMBNAIL] == f"k{p.payload['n']}" and "v" in p.vectors for p in flat)


def test_dense_search_scores_by_cosine_with_filter_and_threshold(coll: CollectionStore) -> None:
    coll.upsert(
        [
            point("same", unit(1, 0, 0, 0), group="x"),
            point("near", unit(1, 0.3, 0, 0), group="y"),
            point("far", unit(0, 0, 1, 0), group="x"),
        ]
    )
    hits = coll.search(VectorQuery("v", [2.0, 0, 0, 0]), limit=3, with_vectors=True)
    assert [h.id for h in hits] == ["same", "near", "far"]
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert hits[1].score == pytest.approx(1 / math.sqrt(1.09), abs=1e-4)
    assert hits[0].vectors["v"] == pytest.approx(unit(1, 0, 0, 0))
    assert hits[0].payload["id"] == "same"
    only_x = coll.search(VectorQuery("v", unit(1, 0, 0, 0)), limit=3, filter=Match("group", "x"))
    assert [h.id for h in only_x] == ["same", "far"]
    above = coll.search(VectorQuery("v", unit(1, 0, 0, 0)), limit=3, score_threshold=0.5)
    assert [h.id for h in above] == ["same", "near"]
    excluded = coll.search(
        VectorQuery("v", unit(1, 0, 0, 0)), limit=3, filter=Not(HasIds(("same",)))
    )
    assert [h.id for h in excluded] == ["near", "far"]


def test_search_batch_answers_each_query_in_order(coll: CollectionStore) -> None:
    coll.upsert([point("a", unit(1, 0, 0, 0)), point("b", unit(0, 1, 0, 0))])
    queries = [VectorQuery("v", unit(0, 1, 0, 0)), VectorQuery("v", unit(1, 0, 0, 0))]
    results = coll.search_batch(queries, limit=1)
    assert [[h.id for h in r] for r in results] == [["b"], ["a"]]
    assert coll.search_batch([], limit=1) == []
    filtered = coll.search_batch(queries, limit=2, filter=HasIds(("a",)))
    assert [[h.id for h in r] for r in filtered] == [["a"], ["a"]]
    near_only = coll.search_batch(queries, limit=2, score_thresholds=[0.5, None])
    assert [[h.id for h in r] for r in near_only] == [["b"], ["a", "b"]]


def test_sparse_search_weighs_rare_words_higher(coll: CollectionStore) -> None:
    common, rare = 1, 2
    points = [
        StoredPoint(f"r{i}", {}, {"v": unit(1, 0, 0, 0), "text": SparseVector([common], [1.0])})
        for i in range(4)
    ]
    points.append(
        StoredPoint(
            "both", {}, {"v": unit(1, 0, 0, 0), "text": SparseVector([common, rare], [1.0, 1.0])}
        )
    )
    points.append(point("no-text", unit(1, 0, 0, 0)))
    coll.upsert(points)
    hits = coll.search(VectorQuery("text", SparseVector([rare], [1.0])), limit=10)
    assert [h.id for h in hits] == ["both"]
    hits = coll.search(VectorQuery("text", SparseVector([common, rare], [1.0, 1.0])), limit=10)
    assert hits[0].id == "both" and len(hits) == 5
    rare_only = hits[0].score - hits[1].score
    common_only = hits[1].score
    assert rare_only > common_only > 0  # IDF: a word in one record of six outweighs one in five


def test_multivector_scores_a_point_by_its_best_vector(coll: CollectionStore) -> None:
    coll.upsert(
        [
            StoredPoint(
                "two",
                {},
                {"v": unit(1, 0, 0, 0), "faces": MultiVector([unit(1, 0, 0), unit(0, 1, 0)])},
            ),
            StoredPoint("one", {}, {"v": unit(1, 0, 0, 0), "faces": MultiVector([unit(1, 1, 0)])}),
            point("none", unit(1, 0, 0, 0)),
        ]
    )
    hits = coll.search(VectorQuery("faces", MultiVector([unit(0, 1, 0)])), limit=10)
    assert [h.id for h in hits] == ["two", "one"]
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert hits[1].score == pytest.approx(1 / math.sqrt(2), abs=1e-4)


def test_recommend_from_positive_and_negative_examples(coll: CollectionStore) -> None:
    coll.upsert(
        [
            point("p", unit(1, 0, 0, 0)),
            point("near-p", unit(1, 0.2, 0, 0)),
            point("near-n", unit(0, 1, 0.2, 0)),
            point("n", unit(0, 1, 0, 0)),
        ]
    )
    query = VectorQuery("v", positives=[unit(1, 0, 0, 0)], negatives=[unit(0, 1, 0, 0)])
    hits = coll.search(query, limit=4)
    ids = [h.id for h in hits]
    assert ids[:2] == ["p", "near-p"]
    assert ids.index("near-n") > ids.index("near-p")
    assert all(h.score > hits[-1].score for h in hits[:2])


def test_scroll_pages_with_opaque_cursors_and_counts(coll: CollectionStore) -> None:
    coll.upsert([point(f"r{i:02d}", unit(1, i, 0, 0), metadata={"n": i}) for i in range(25)])
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page, cursor = coll.scroll(limit=10, offset=cursor)
        pages += 1
        seen.extend(p.id for p in page)
        assert cursor is None or isinstance(cursor, str)
        if cursor is None:
            break
    assert pages == 3 and sorted(seen) == [f"r{i:02d}" for i in range(25)]
    assert len(seen) == len(set(seen))
    even, _ = coll.scroll(filter=parse_filter({"n": {"$in": [0, 2, 4]}}), limit=10)
    assert {p.id for p in even} == {"r00", "r02", "r04"}
    with_vectors, _ = coll.scroll(limit=1, with_vectors=True)
    assert "v" in with_vectors[0].vectors
    assert coll.count() == 25
    assert coll.count(parse_filter({"n": {"$gte": 20}})) == 5
    with pytest.raises(BadInput):
        coll.scroll(limit=10, offset="not a cursor")
    _, cursor = coll.scroll(limit=3)
    assert cursor is not None
    hex_only = cursor.replace("-", "")
    for forged in (hex_only, f"{hex_only[:12]}-{hex_only[12:16]}-{hex_only[16:]}", cursor.upper()):
        with pytest.raises(BadInput):  # spellings Python reads as a UUID and the stores do not
            coll.scroll(limit=10, offset=forged)


def test_sample_draws_distinct_points_within_the_filter(coll: CollectionStore) -> None:
    coll.upsert([point(f"r{i}", unit(1, i, 0, 0), metadata={"odd": i % 2 == 1}) for i in range(20)])
    drawn = coll.sample(5)
    assert len(drawn) == 5 == len({p.id for p in drawn})
    odd = coll.sample(50, filter=parse_filter({"odd": True}))
    assert sorted(p.id for p in odd) == sorted(f"r{i}" for i in range(1, 20, 2))
    draws = {tuple(sorted(p.id for p in coll.sample(3))) for _ in range(8)}
    assert len(draws) > 1  # random, not the first points every time


def test_status_and_maintain(coll: CollectionStore) -> None:
    coll.upsert([point(f"r{i}", unit(1, i, 0, 0)) for i in range(5)])
    status = coll.status()
    assert status.points == 5 and 0 <= status.indexed <= 5
    announced: list[str] = []
    assert coll.maintain(announced.append) in (True, False)
    assert coll.count() == 5 and coll.status().points == 5


# filters of every kind: the cases of the filter translation, through the seam -------------


@pytest.fixture
def filter_coll(coll: CollectionStore) -> CollectionStore:
    coll.upsert(
        [
            point(rid, unit(1, n, 0.5, 0.25), **payload)
            for n, (rid, payload) in enumerate(RECORDS.items())
        ]
    )
    return coll


def selected(coll: CollectionStore, node: Any) -> frozenset[str]:
    page, _ = coll.scroll(filter=node, limit=1000)
    found = frozenset(p.id for p in page)
    assert coll.count(node) == len(found) == len(page)
    hits = coll.search(VectorQuery("v", unit(1, 1, 0.5, 0.25)), limit=1000, filter=node)
    assert frozenset(h.id for h in hits) == found
    return found


def test_filters_of_every_kind(filter_coll: CollectionStore) -> None:
    for name, spec, _ in CASES:
        assert selected(filter_coll, parse_filter(spec)) == expected_ids(spec), name
    for name, node, expected in ID_CASES:
        assert selected(filter_coll, node) == expected, name
    everything = frozenset(RECORDS)
    assert selected(filter_coll, None) == everything
    assert selected(filter_coll, And(())) == everything
    assert selected(filter_coll, Or(())) == frozenset()


PLACES = {
    "eiffel": (48.8584, 2.2945),
    "louvre": (48.8606, 2.3376),
    "versailles": (48.8049, 2.1204),
    "london": (51.5007, -0.1246),
    "fiji": (-17.7134, 178.0650),
    "samoa": (-13.7590, -172.1046),
}


def test_geo_and_datetime_filters(coll: CollectionStore) -> None:
    coll.upsert(
        [
            point(
                name,
                unit(1, i, 0, 0),
                exif={
                    "location": {"lat": lat, "lon": lon},
                    "taken_at": f"2021-0{i + 1}-15T12:00:00Z",
                },
            )
            for i, (name, (lat, lon)) in enumerate(PLACES.items())
        ]
        + [point("no-exif", unit(0, 1, 0, 0))]
    )

    def near(meters: float) -> frozenset[str]:
        geometry = {"type": "Point", "coordinates": [2.2945, 48.8584]}
        spec = {"exif.location": {"$near": {"$geometry": geometry, "$maxDistance": meters}}}
        return selected(coll, parse_filter(spec))

    assert near(5_000) == {"eiffel", "louvre"}
    assert near(20_000) == {"eiffel", "louvre", "versailles"}
    across = {"exif.location": {"$geoWithin": {"$box": [[170, -20], [-170, -10]]}}}
    assert selected(coll, parse_filter(across)) == {"fiji", "samoa"}
    spring = {"exif.taken_at": {"$gte": "2021-02-01T00:00:00Z", "$lt": "2021-04-01T00:00:00Z"}}
    assert selected(coll, parse_filter(spring)) == {"louvre", "versailles"}
