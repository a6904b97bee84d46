"""Geo and capture-time filters: parsed from MongoDB's operators, then applied by a real shard."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lookalike.errors import InvalidFilter
from lookalike.filters import EARTH_RADIUS_M, And, GeoBox, GeoRadius, Not, parse_filter
from lookalike.store.base import StoredPoint, VectorSpec
from lookalike.store.edge import EdgeCollection, EdgeStore

PLACES = {
    "eiffel": (48.8584, 2.2945),
    "louvre": (48.8606, 2.3376),  # 3.2 km from the Eiffel tower
    "versailles": (48.8049, 2.1204),  # 14 km
    "london": (51.5007, -0.1246),  # 340 km
    "fiji": (-17.7134, 178.0650),  # west of the 180th meridian
    "samoa": (-13.7590, -172.1046),  # east of it
}


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    (lat1, lon1), (lat2, lon2) = (tuple(map(math.radians, p)) for p in (a, b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


@pytest.fixture(scope="module")
def shard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeCollection]:
    store = EdgeStore(tmp_path_factory.mktemp("geo"))
    store.create_collection("geo", [VectorSpec("v", 2)], {})
    coll = store.open_collection("geo")
    points = [
        StoredPoint(
            id=name,
            payload={
                "exif": {
                    "location": {"lat": lat, "lon": lon},
                    "taken_at": f"2021-0{i + 1}-15T12:00:00Z",
                    "make": "Canon" if i % 2 else "NIKON CORPORATION",
                }
            },
            vectors={"v": [1.0, float(i)]},
        )
        for i, (name, (lat, lon)) in enumerate(PLACES.items())
    ]
    points.append(StoredPoint(id="no-exif", payload={}, vectors={"v": [1.0, 0.0]}))
    points.append(
        StoredPoint(id="no-gps", payload={"exif": {"make": "Canon"}}, vectors={"v": [0.0, 1.0]})
    )
    coll.upsert(points)
    yield coll
    coll.close()


def ids(shard: EdgeCollection, spec: dict[str, Any]) -> set[str]:
    points, _ = shard.scroll(filter=parse_filter(spec), limit=100)
    return {p.id for p in points}


def near(lon: float, lat: float, meters: float, **extra: float) -> dict[str, Any]:
    geometry = {"type": "Point", "coordinates": [lon, lat]}
    return {"exif.location": {"$near": {"$geometry": geometry, "$maxDistance": meters, **extra}}}


@pytest.mark.parametrize("meters", [1_000, 5_000, 20_000, 500_000])
def test_near_matches_the_places_within_the_distance(shard: EdgeCollection, meters: int) -> None:
    lat, lon = PLACES["eiffel"]
    expected = {n for n, p in PLACES.items() if haversine_m(PLACES["eiffel"], p) <= meters}
    assert ids(shard, near(lon, lat, meters)) == expected
    assert "eiffel" in expected


def test_near_with_a_minimum_distance_is_a_ring(shard: EdgeCollection) -> None:
    lat, lon = PLACES["eiffel"]
    assert ids(shard, near(lon, lat, 20_000, **{"$minDistance": 1_000})) == {
        "louvre",
        "versailles",
    }


def test_center_sphere_takes_radians_as_mongodb_does(shard: EdgeCollection) -> None:
    lat, lon = PLACES["eiffel"]
    radians = 5_000 / EARTH_RADIUS_M
    spec = {"exif.location": {"$geoWithin": {"$centerSphere": [[lon, lat], radians]}}}
    assert ids(shard, spec) == {"eiffel", "louvre"}


def test_box_and_a_box_across_the_180th_meridian(shard: EdgeCollection) -> None:
    paris = {"exif.location": {"$geoWithin": {"$box": [[2.0, 48.7], [2.5, 49.0]]}}}
    assert ids(shard, paris) == {"eiffel", "louvre", "versailles"}
    pacific = {"exif.location": {"$geoWithin": {"$box": [[170.0, -20.0], [-170.0, -10.0]]}}}
    assert ids(shard, pacific) == {"fiji", "samoa"}


def test_time_range_and_camera_combine_with_geo(shard: EdgeCollection) -> None:
    spring = {"exif.taken_at": {"$gte": "2021-02-01", "$lt": "2021-05-01T00:00:00+00:00"}}
    assert ids(shard, spring) == {"louvre", "versailles", "london"}
    lat, lon = PLACES["eiffel"]
    both = {**spring, **near(lon, lat, 20_000), "exif.make": "Canon"}
    assert ids(shard, both) == {"louvre"}
    assert ids(shard, {"exif.location": {"$exists": False}}) == {"no-exif", "no-gps"}


def test_geo_filters_also_restrict_a_vector_search(shard: EdgeCollection) -> None:
    from lookalike.store.base import VectorQuery

    lat, lon = PLACES["eiffel"]
    hits = shard.search(
        VectorQuery(using="v", vector=[0.0, 1.0]),
        limit=10,
        filter=parse_filter(near(lon, lat, 5e3)),
    )
    assert {h.id for h in hits} == {"eiffel", "louvre"}


def test_parsed_trees() -> None:
    assert parse_filter(near(2.0, 48.0, 100.0)) == GeoRadius("exif.location", 2.0, 48.0, 100.0)
    assert parse_filter(near(2.0, 48.0, 100.0, **{"$minDistance": 10})) == And(
        (
            GeoRadius("exif.location", 2.0, 48.0, 100.0),
            Not(GeoRadius("exif.location", 2.0, 48.0, 10.0)),
        )
    )
    box = {"where": {"$geoWithin": {"$box": [[-1, -2], [3, 4]]}}}
    assert parse_filter(box) == GeoBox("metadata.where", -1.0, -2.0, 3.0, 4.0)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"$geoWithin": {"$polygon": [[0, 0], [1, 1], [1, 0]]}}, "needs one shape"),
        ({"$geoWithin": {"$box": [[0, 0]]}}, "south-west corner"),
        ({"$geoWithin": {"$box": [[0, 10], [1, 5]]}}, "first corner is the south-west"),
        ({"$geoWithin": {"$centerSphere": [[0, 0]]}}, "[[lon, lat], radians]"),
        ({"$geoWithin": {"$centerSphere": [[0, 0], -1]}}, "must not be negative"),
        ({"$geoWithin": {"$centerSphere": [[200, 0], 0.1]}}, "not a [lon, lat] point"),
        ({"$geoWithin": {"$centerSphere": [["a", 0], 0.1]}}, "a point is [lon, lat]"),
        ({"$near": [2.0, 48.0]}, "$maxDistance"),
        ({"$near": {"$geometry": {"type": "Point", "coordinates": [2, 48]}}}, "$maxDistance"),
        (
            {
                "$near": {
                    "$geometry": {"type": "Polygon", "coordinates": [2, 48]},
                    "$maxDistance": 1,
                }
            },
            "GeoJSON Point",
        ),
        (
            {
                "$near": {
                    "$geometry": {"type": "Point", "coordinates": [2, 48]},
                    "$maxDistance": True,
                }
            },
            "must be a number",
        ),
        (
            {
                "$nearSphere": {
                    "$geometry": {"type": "Point", "coordinates": [2, 48]},
                    "$maxDistance": 5,
                    "$limit": 3,
                }
            },
            "unsupported $limit",
        ),
    ],
)
def test_bad_geo_filters_name_the_problem(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidFilter) as caught:
        parse_filter({"exif.location": spec})
    assert message in caught.value.message and "exif.location" in caught.value.message


def test_a_geo_filter_on_an_empty_collection_matches_nothing(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path)
    store.create_collection("empty", [VectorSpec("v", 2)], {})
    with store.open_collection("empty") as coll:
        assert coll.count(parse_filter(near(0.0, 0.0, 1e6))) == 0
