"""People: the faces of a collection grouped into persons, named, merged and split.

Where things live, and why:

- each face's person id is in the record's payload, next to the face's box
  (``faces: [{"box": [...], "person": 3}]``), with the flat list ``people: [3]`` for filters and
  ``faces_pending`` set while a record has faces no clustering has seen. The assignment thus
  lives and dies with its record: deleting or re-indexing an image needs no bookkeeping;
- the people table (names, next free id) is a small part of the collection's configuration,
  which every store keeps anyway; counts are read from the payload, so they never drift.

Grouping is single-linkage at one threshold: two faces whose similarity reaches it are one
person. The incremental run (the default) looks only at pending faces: each joins the person of
its nearest already grouped face when it is close enough (found through the store's own face
search), pending faces close to each other go together, and the rest start new people. Existing
people are never merged or broken up by it, so names, merges and splits stay as the user left
them. ``full=True`` regroups every face and keeps the ids (and names) of the old people that
most of each new group's faces had.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lookalike import ranking
from lookalike.errors import BadInput, Conflict, NotFound
from lookalike.filters import IsEmpty, Match, MatchAny, Node, Not
from lookalike.store.base import (
    CollectionStore,
    MultiVector,
    StoredPoint,
    VectorQuery,
    revision,
    scroll_all,
)
from lookalike.types import ClusterReport as ClusterReport
from lookalike.types import Person as Person

TABLE_KEY = "people"
_PAGE = 256
_NEIGHBOURS = 8
"""Records searched per pending face for an already grouped neighbour."""


@dataclass
class _Face:
    record: str
    index: int
    person: int | None


class People:
    """The people of one collection; ``threshold`` is a cosine between face embeddings."""

    def __init__(self, store: CollectionStore, config: dict[str, Any], threshold: float):
        self.store = store
        self.config = config
        """The collection's configuration, kept current as the table changes."""
        self.threshold = threshold
        table = config.get(TABLE_KEY) or {}
        self.names: dict[int, str] = {int(k): v for k, v in table.get("names", {}).items()}
        self.next_id: int = int(table.get("next_id", 1))
        self.clustered = TABLE_KEY in config
        """Whether people were grouped before (new images then join them as indexed)."""

    def _save(self) -> None:
        """Write the table, on the condition that nobody changed the configuration since it was
        read (:class:`~lookalike.errors.ConfigChanged` otherwise): processes sharing a store
        never hand out one person id twice nor undo each other's edits. Each edit saves the
        table before it writes faces, so a refused edit has written nothing."""
        names = {str(k): v for k, v in sorted(self.names.items())}
        table = {"names": names, "next_id": self.next_id}
        expect = revision(self.config)
        self.config.update(self.store.update_config({TABLE_KEY: table}, expect=expect))
        self.clustered = True

    # reading ------------------------------------------------------------------------------

    def summary(self) -> list[Person]:
        """Every person, most faces first."""
        faces: Counter[int] = Counter()
        records: dict[int, list[str]] = {}
        for point in self._scroll(Not(IsEmpty("faces")), vectors=False):
            for face in point.payload.get("faces") or []:
                person = face.get("person")
                if person is None:
                    continue
                faces[person] += 1
                seen = records.setdefault(person, [])
                if not seen or seen[-1] != point.id:
                    seen.append(point.id)
        people = [
            Person(pid, self.names.get(pid), n, len(records[pid]), sorted(records[pid])[:5])
            for pid, n in faces.items()
        ]
        people.sort(key=lambda p: (-p.faces, p.id))
        return people

    def resolve(self, key: int | str) -> int:
        """A person id from an id or a name (names compare case-insensitively)."""
        if isinstance(key, int) or (isinstance(key, str) and key.strip().isdigit()):
            pid = int(key)
            if self.store.count(Match(TABLE_KEY, pid)) == 0:
                raise NotFound(f"no person {pid} in this collection")
            return pid
        wanted = key.strip().casefold()
        for pid, name in self.names.items():
            if name.casefold() == wanted:
                return pid
        raise NotFound(f"no person named {key!r} in this collection (see `lookalike people`)")

    def centroid(self, pid: int) -> list[float]:
        """The mean direction of a person's faces: the query vector of a person search."""
        vectors = [v for face, v in self._faces(Match(TABLE_KEY, pid)) if face.person == pid]
        if not vectors:
            raise NotFound(f"no person {pid} in this collection")
        mean = np.mean(np.stack(vectors), axis=0)
        return [float(x) for x in mean / np.linalg.norm(mean)]

    # grouping -----------------------------------------------------------------------------

    def cluster(self, *, full: bool = False, count: bool = True) -> ClusterReport:
        """Group the pending faces (all with ``full``); ``count`` fills ``report.people``,
        which reads every record with faces: the grouping run after each ingest skips it."""
        start = time.perf_counter()
        report = ClusterReport()
        where: Node = Not(IsEmpty("faces")) if full else Match("faces_pending", True)
        found = list(self._faces(where))
        faces = [f for f, _ in found]
        report.faces = len(faces)
        if faces:
            matrix = np.stack([v for _, v in found])
            groups = _components(matrix, self.threshold)
            if full:
                self._regroup(faces, groups, report)
            else:
                self._join(faces, matrix, groups, report)
        if faces or not self.clustered:
            self._save()
        if faces:
            self._write(faces)
        if count:
            report.people = len(self.summary())
        report.seconds = time.perf_counter() - start
        return report

    def _join(
        self, faces: list[_Face], matrix: np.ndarray, groups: list[list[int]], report: ClusterReport
    ) -> None:
        anchors = self._anchors(matrix)
        for group in groups:
            votes = Counter(a[0] for a in (anchors[i] for i in group) if a is not None)
            if votes:
                common = max(votes, key=lambda p: (votes[p], -p))
                for i in group:
                    anchor = anchors[i]
                    faces[i].person = anchor[0] if anchor is not None else common
                    report.joined += 1
            else:
                pid = self._new_id()
                report.new_people += 1
                for i in group:
                    faces[i].person = pid

    def _anchors(self, matrix: np.ndarray) -> list[tuple[int, float] | None]:
        """For each pending face, the person of its nearest grouped face if close enough."""
        grouped = Not(IsEmpty(TABLE_KEY))
        out: list[tuple[int, float] | None] = []
        for start in range(0, len(matrix), 64):
            chunk = matrix[start : start + 64]
            queries = [VectorQuery("faces", MultiVector([[float(x) for x in v]])) for v in chunk]
            hit_lists = ranking.search_batch(
                self.store, queries, limit=_NEIGHBOURS, filter=grouped, with_vectors=True
            )
            for v, hits in zip(chunk, hit_lists, strict=True):
                best: tuple[int, float] | None = None
                for hit in hits:
                    stored = hit.vectors.get("faces")
                    if not isinstance(stored, MultiVector):
                        continue
                    boxes = hit.payload.get("faces") or []
                    for j, other in enumerate(_unit(np.asarray(stored.vectors))):
                        person = boxes[j].get("person") if j < len(boxes) else None
                        sim = float(other @ v)
                        if person is not None and sim >= self.threshold:
                            if best is None or sim > best[1]:
                                best = (int(person), sim)
                out.append(best)
        return out

    def _regroup(self, faces: list[_Face], groups: list[list[int]], report: ClusterReport) -> None:
        taken: set[int] = set()
        old_ids = {f.person for f in faces if f.person is not None}
        for group in sorted(groups, key=len, reverse=True):
            votes = Counter(faces[i].person for i in group if faces[i].person is not None)
            keep = [p for p, _ in votes.most_common() if p is not None and p not in taken]
            if keep:
                pid = keep[0]
            else:
                pid = self._new_id()
                report.new_people += 1
            taken.add(pid)
            for i in group:
                if faces[i].person == pid:
                    report.joined += 1
                faces[i].person = pid
        for gone in old_ids - taken:
            self.names.pop(gone, None)

    def _write(self, faces: list[_Face]) -> None:
        by_record: dict[str, dict[int, int | None]] = {}
        for f in faces:
            by_record.setdefault(f.record, {})[f.index] = f.person
        self._rewrite(by_record)

    def _rewrite(self, changes: Mapping[str, Mapping[int, int | None]]) -> None:
        """Write new person ids of faces, one record at a time, keeping the other faces."""
        for point in self.store.retrieve(sorted(changes)):
            stored = [dict(f) for f in point.payload.get("faces") or []]
            for index, person in changes[point.id].items():
                if index < len(stored):
                    stored[index]["person"] = person
            people = sorted({f["person"] for f in stored if f.get("person") is not None})
            pending = any(f.get("person") is None for f in stored)
            self.store.set_payload(
                [point.id], {"faces": stored, TABLE_KEY: people, "faces_pending": pending}
            )

    # editing ------------------------------------------------------------------------------

    def name(self, pid: int, name: str | None) -> None:
        """Name a person; ``None`` or an empty name removes the name."""
        if name is None or not name.strip():
            self.names.pop(pid, None)
        else:
            name = name.strip()
            if name.isdigit():
                raise BadInput(f"a person's name cannot be a number ({name!r} reads as an id)")
            for other, existing in self.names.items():
                if other != pid and existing.casefold() == name.casefold():
                    raise Conflict(
                        f"person {other} is already named {existing!r}; merge the two people "
                        "if they are one"
                    )
            self.names[pid] = name
        self._save()

    def merge(self, pids: Sequence[int], into: int | None = None) -> int:
        """Make several people one; the result keeps ``into`` (else the first id) and a name."""
        if len(set(pids)) < 2 and (into is None or into in pids):
            raise BadInput("merging needs at least two different people")
        target = pids[0] if into is None else into
        others = [p for p in dict.fromkeys(pids) if p != target]
        changes: dict[str, dict[int, int | None]] = {}
        for point in self._scroll(MatchAny(TABLE_KEY, tuple(others)), vectors=False):
            for i, face in enumerate(point.payload.get("faces") or []):
                if face.get("person") in others:
                    changes.setdefault(point.id, {})[i] = target
        if target not in self.names:
            named = [self.names[p] for p in others if p in self.names]
            if named:
                self.names[target] = named[0]
        for p in others:
            self.names.pop(p, None)
        self._save()
        self._rewrite(changes)
        return target

    def split(self, pid: int, faces: Sequence[str | tuple[str, int]]) -> int:
        """Move some faces of a person to a new person: a record id moves all of the person's
        faces in that record, ``(record id, face index)`` one face. Answers the new id."""
        wanted: dict[str, set[int] | None] = {}
        for f in faces:
            if isinstance(f, tuple):
                entry = wanted.setdefault(f[0], set())
                if entry is not None:
                    entry.add(int(f[1]))
            else:
                wanted[f] = None
        if not wanted:
            raise BadInput("name the records (or record:face) to split off")
        changes: dict[str, dict[int, int | None]] = {}
        points = {p.id: p for p in self.store.retrieve(sorted(wanted))}
        for rid, indexes in wanted.items():
            point = points.get(rid)
            if point is None:
                raise NotFound(f"no record {rid!r} in this collection")
            stored = point.payload.get("faces") or []
            mine = [i for i, face in enumerate(stored) if face.get("person") == pid]
            chosen = mine if indexes is None else sorted(indexes)
            if not chosen or any(i not in mine for i in chosen):
                raise BadInput(f"record {rid!r} has no such face of person {pid}")
            changes[rid] = dict.fromkeys(chosen)
        new = self._new_id()
        self._save()
        self._rewrite({r: dict.fromkeys(c, new) for r, c in changes.items()})
        return new

    # helpers ------------------------------------------------------------------------------

    def _new_id(self) -> int:
        pid = self.next_id
        self.next_id += 1
        return pid

    def _scroll(self, where: Node, *, vectors: bool) -> Iterator[StoredPoint]:
        return scroll_all(self.store, filter=where, page=_PAGE, with_vectors=vectors)

    def _faces(self, where: Node) -> Iterator[tuple[_Face, np.ndarray]]:
        """Faces of the matching records with their unit-length embeddings."""
        for point in self._scroll(where, vectors=True):
            stored = point.vectors.get("faces")
            if not isinstance(stored, MultiVector):
                continue
            boxes = point.payload.get("faces") or []
            for i, v in enumerate(_unit(np.asarray(stored.vectors, dtype=np.float32))):
                person = boxes[i].get("person") if i < len(boxes) else None
                yield _Face(point.id, i, person), v


def _unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.where(norms > 0, norms, 1.0), dtype=np.float32)


def _components(matrix: np.ndarray, threshold: float, chunk: int = 2048) -> list[list[int]]:
    """Groups of rows linked by a cosine at or above ``threshold`` (single linkage), in order
    of their first member; rows are unit vectors. Memory grows with ``chunk`` x rows."""
    parent = list(range(len(matrix)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for start in range(0, len(matrix), chunk):
        sims = matrix[start : start + chunk] @ matrix.T
        rows, cols = np.nonzero(sims >= threshold)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            a, b = root(start + r), root(c)
            if a != b:
                parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(len(matrix)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def face_ref(spec: str) -> str | tuple[str, int]:
    """``RECORD#N`` names face N of a record; anything else is a whole record's id."""
    rid, sep, index = spec.rpartition("#")
    return (rid, int(index)) if sep and rid and index.isdigit() else spec
