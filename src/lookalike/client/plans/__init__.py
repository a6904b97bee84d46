"""Each client operation once, as a plan of HTTP calls (see :mod:`lookalike.client.wire`): the
routes of docs/server.md, the local work a remote call still needs (reading files, walking
folders), and the answers turned back into the core's types. One module per part of the API."""

from lookalike.client.plans.adding import add, index
from lookalike.client.plans.backups import backup, restore
from lookalike.client.plans.collections import (
    aliases,
    collection_info,
    create_collection,
    drop_collection,
    list_collections,
    make_thumbnails,
    reindex,
    set_alias,
)
from lookalike.client.plans.jobs import get_job, list_jobs, wait_job
from lookalike.client.plans.people import (
    cluster_people,
    merge_people,
    name_person,
    people,
    split_person,
)
from lookalike.client.plans.queries import duplicates, moderate, search
from lookalike.client.plans.records import count, delete, get, list_records, thumbnail, update

__all__ = [
    "add",
    "aliases",
    "backup",
    "cluster_people",
    "collection_info",
    "count",
    "create_collection",
    "delete",
    "drop_collection",
    "duplicates",
    "get",
    "get_job",
    "index",
    "list_collections",
    "list_jobs",
    "list_records",
    "make_thumbnails",
    "merge_people",
    "moderate",
    "name_person",
    "people",
    "reindex",
    "restore",
    "search",
    "set_alias",
    "split_person",
    "thumbnail",
    "update",
    "wait_job",
]
