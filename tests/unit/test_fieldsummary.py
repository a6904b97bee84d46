"""The field summary behind the page's filter controls, from payloads as the store holds them."""

from __future__ import annotations

from lookalike.fieldsummary import MAX_VALUES, summarize


def test_metadata_values_numbers_and_lists() -> None:
    payloads = [
        {"metadata": {"color": "red", "price": 10, "tags": ["a", "b"], "dims": {"w": 1}}},
        {"metadata": {"color": "red", "price": 2.5, "tags": ["b"]}},
        {"metadata": {"color": "blue", "sold": True}},
        {},
    ]
    s = summarize(payloads)
    assert s["records"] == 4
    meta = s["metadata"]
    assert set(meta) == {"color", "price", "tags", "sold"}  # nested objects are left out
    assert meta["color"]["values"] == [{"value": "red", "count": 2}, {"value": "blue", "count": 1}]
    assert meta["color"]["kind"] == "value" and meta["color"]["records"] == 3
    assert meta["price"]["kind"] == "number" and (meta["price"]["min"], meta["price"]["max"]) == (
        2.5,
        10,
    )
    assert meta["tags"]["values"][0] == {"value": "b", "count": 2}  # each element counts
    assert meta["sold"]["kind"] == "value"  # a boolean is not a number
    assert s["taken"] is None and s["cameras"] == [] and s["located"] == 0 and s["safe"] is None


def test_exif_and_moderation() -> None:
    payloads = [
        {
            "exif": {
                "taken_at": f"2021-06-0{i + 1}T09:00:00",
                "make": "Canon",
                "model": f"M{i % 2}",
                "location": {"lat": 45.0, "lon": 6.0},
            },
            "safe": i != 2,
        }
        for i in range(4)
    ]
    s = summarize(payloads)
    assert s["taken"] == {
        "first": "2021-06-01T09:00:00",
        "last": "2021-06-04T09:00:00",
        "records": 4,
    }
    assert s["cameras"] == [
        {"make": "Canon", "model": "M0", "count": 2},
        {"make": "Canon", "model": "M1", "count": 2},
    ]
    assert s["located"] == 4 and s["safe"] == {"safe": 3, "unsafe": 1}


def test_values_are_capped_most_common_first() -> None:
    payloads = [{"metadata": {"n": f"v{i}"}} for i in range(MAX_VALUES + 10)]
    payloads += [{"metadata": {"n": "common"}}] * 3
    field = summarize(payloads)["metadata"]["n"]
    assert field["distinct"] == MAX_VALUES + 11 and len(field["values"]) == MAX_VALUES
    assert field["values"][0] == {"value": "common", "count": 3}
