"""Records: get, update, delete, count, list, and their thumbnails."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lookalike.client.plans.common import body_of, coll, filter_param, q
from lookalike.client.wire import Call, Plan


def get(name: str, record_id: str) -> Plan[dict[str, Any]]:
    return dict(body_of((yield Call("GET", f"{coll(name)}/records/{q(record_id)}"))))


def update(
    name: str,
    record_id: str,
    *,
    metadata: Mapping[str, Any] | None,
    group: str | None,
    merge: bool,
) -> Plan[dict[str, Any]]:
    body: dict[str, Any] = {"merge": merge}
    if metadata is not None:
        body["metadata"] = dict(metadata)
    if group is not None:
        body["group"] = group
    call = Call("PATCH", f"{coll(name)}/records/{q(record_id)}", json=body, idempotent=True)
    return dict(body_of((yield call)))


def delete(name: str, record_ids: Sequence[str]) -> Plan[dict[str, bool]]:
    call = Call("POST", f"{coll(name)}/records/delete", json={"ids": list(record_ids)})
    return dict(body_of((yield call))["deleted"])


def count(name: str, filter: Mapping[str, Any] | str | None) -> Plan[int]:
    params = filter_param(filter)
    return int(body_of((yield Call("GET", f"{coll(name)}/count", params=params)))["count"])


def list_records(
    name: str,
    *,
    filter: Mapping[str, Any] | str | None,
    limit: int,
    offset: str | None,
    sort: str | None = None,
) -> Plan[tuple[list[dict[str, Any]], str | None]]:
    params: dict[str, str | int] = {"limit": limit, **filter_param(filter)}
    if offset is not None:
        params["offset"] = offset
    if sort is not None:
        params["sort"] = sort
    body = body_of((yield Call("GET", f"{coll(name)}/records", params=params)))
    return list(body["records"]), body.get("next_offset")


def thumbnail(name: str, record_id: str) -> Plan[bytes]:
    return bytes(body_of((yield Call("GET", f"{coll(name)}/thumbnails/{q(record_id)}"))))
