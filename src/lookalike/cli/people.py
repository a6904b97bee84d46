"""``lookalike people``: group faces into people, name, merge and split them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from lookalike.cli.app import people_app
from lookalike.cli.connect import engine_for
from lookalike.cli.options import CollectionName, DataDir, JsonOut, ServerUrl
from lookalike.cli.output import err, out, print_json, print_table

if TYPE_CHECKING:
    from lookalike.client import RemoteCollection
    from lookalike.engine import Collection


@people_app.command("list")
def people_list(
    collection: CollectionName = "default",
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """The people grouped so far, most faces first."""
    with engine_for(data_dir, server) as engine:
        people = engine.collection(collection).people()
    if json_out:
        print_json([p.to_dict() for p in people])
        return
    rows: list[list[str | Text]] = [
        [str(p.id), p.name or "", str(p.faces), str(p.records), " ".join(p.sample)] for p in people
    ]
    print_table(["id", "name", "faces", "records", "sample"], rows)
    if not people:
        out.print("  no people yet: run `lookalike people cluster`")


@people_app.command("cluster")
def people_cluster(
    full: Annotated[
        bool, typer.Option("--full", help="Regroup every face, not only the new ones.")
    ] = False,
    collection: CollectionName = "default",
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Group faces into people; new faces join the people found before."""
    with engine_for(data_dir, server) as engine:
        report = engine.collection(collection).cluster_people(full=full)
    if json_out:
        print_json(report.to_dict())
    err.print(
        f"{report.faces} faces grouped: {report.joined} joined known people, "
        f"{report.new_people} new people; {report.people} people in {report.seconds:.1f}s"
    )


@people_app.command("name")
def people_name(
    person: Annotated[str, typer.Argument(help="Person id or current name.")],
    name: Annotated[str, typer.Argument(help='New name ("" removes it).')],
    collection: CollectionName = "default",
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Name a person."""
    with engine_for(data_dir, server) as engine:
        coll = engine.collection(collection)
        pid = coll.name_person(person, name or None)
        if json_out:
            print_json(_person(coll, pid))
    err.print(f"person {pid}: {name or 'name removed'}", markup=False)


@people_app.command("merge")
def people_merge(
    persons: Annotated[list[str], typer.Argument(help="Two or more person ids or names.")],
    into: Annotated[
        str | None, typer.Option(help="The person they become (default: the first given).")
    ] = None,
    collection: CollectionName = "default",
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Make several people one person."""
    with engine_for(data_dir, server) as engine:
        coll = engine.collection(collection)
        pid = coll.merge_people(persons, into=into)
        if json_out:
            print_json(_person(coll, pid))
    err.print(f"merged into person {pid}")


@people_app.command("split")
def people_split(
    person: Annotated[str, typer.Argument(help="Person id or name.")],
    records: Annotated[
        list[str],
        typer.Argument(
            help="Records whose faces of this person move to a new person; "
            "RECORD#N moves only face N of that record."
        ),
    ],
    collection: CollectionName = "default",
    json_out: JsonOut = False,
    data_dir: DataDir = None,
    server: ServerUrl = None,
) -> None:
    """Move some faces of a person to a new person."""
    from lookalike.signals.faces.people import face_ref

    faces = [face_ref(spec) for spec in records]
    with engine_for(data_dir, server) as engine:
        coll = engine.collection(collection)
        pid = coll.split_person(person, faces)
        if json_out:
            print_json(_person(coll, pid))
    err.print(f"split off as person {pid}")


def _person(coll: Collection | RemoteCollection, pid: int) -> dict[str, Any]:
    """The person as ``people list --json`` shows it (and the REST API answers)."""
    for p in coll.people():
        if p.id == pid:
            return p.to_dict()
    return {"id": pid}
