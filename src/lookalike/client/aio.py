"""``AsyncClient``: :class:`~lookalike.client.Client` for asyncio programs. Every operation is
the same plan (:mod:`lookalike.client.plans`); only the I/O awaits."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx

from lookalike.client import plans
from lookalike.client.retry import DEFAULT_RETRY, Retry
from lookalike.client.shapes import from_dict
from lookalike.client.sync import MAX_IMAGE_BYTES, api_key_of, retry_of, server_url
from lookalike.client.wire import (
    Call,
    Pause,
    Plan,
    Reply,
    file_chunks,
    reply_of,
    request_args,
    transport_error,
)
from lookalike.errors import LookalikeError
from lookalike.types import (
    COPY_THRESHOLD,
    BackupReport,
    Cluster,
    ClusterReport,
    Example,
    IngestReport,
    MigrationReport,
    OnDuplicate,
    OnUnsafe,
    Person,
    Precision,
    ProgressCallback,
    ReindexReport,
    SearchResult,
    ThumbnailReport,
)

T = TypeVar("T")


async def _async_chunks(path: Path) -> AsyncIterator[bytes]:
    """A file's chunks for an async request body (httpx's async client takes no plain
    iterator)."""
    for chunk in file_chunks(path):
        yield chunk


class AsyncClient:
    """A lookalike server, used like an :class:`~lookalike.Engine` with ``await``::

        async with AsyncClient("http://127.0.0.1:8000") as client:
            photos = await client.collection("photos")
            hits = await photos.search(text="red shoes")

    Reading local files to upload them blocks briefly, as ``open()`` does. The arguments are
    :class:`~lookalike.client.Client`'s."""

    def __init__(
        self,
        url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = 60.0,
        retry: Retry | int = DEFAULT_RETRY,
        max_image_bytes: int = MAX_IMAGE_BYTES,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.url = server_url(url)
        self.timeout = timeout
        self.retry = retry_of(retry)
        self.max_image_bytes = max_image_bytes
        self._http = http or httpx.AsyncClient()
        key = api_key_of(api_key)
        if key:
            self._http.headers["X-API-Key"] = key

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    async def run(self, plan: Plan[T]) -> T:
        """Carry out one operation of :mod:`lookalike.client.plans`."""
        reply: Reply | None = None
        error: LookalikeError | None = None
        while True:
            try:
                step = plan.send(reply) if error is None else plan.throw(error)
            except StopIteration as stop:
                result: T = stop.value
                return result
            reply, error = None, None
            if isinstance(step, Pause):
                await asyncio.sleep(step.seconds)
                continue
            reply, error = await self._send(step)

    async def _send(self, call: Call) -> tuple[Reply | None, LookalikeError | None]:
        """One call, sent again as :attr:`retry` allows; its reply or the error it ended with."""
        attempt = 0
        while True:
            try:
                response = await self._exchange(call)
            except httpx.TransportError as exc:
                error = transport_error(self.url, exc)
                wait = self.retry.wait(call, attempt, transport=exc)
            else:
                try:
                    return reply_of(response, saved=call.save_to is not None), None
                except LookalikeError as exc:
                    error = exc
                    wait = self.retry.wait(call, attempt, error=exc, response=response)
            if wait is None:
                return None, error
            await asyncio.sleep(wait)
            attempt += 1

    async def _exchange(self, call: Call) -> httpx.Response:
        """The response to ``call``, its body read, or streamed into ``call.save_to``."""
        args = request_args(call, self.timeout)
        if call.body_file is not None:
            args["content"] = _async_chunks(call.body_file)
        if call.save_to is None:
            return await self._http.request(call.method, self.url + call.path, **args)
        async with self._http.stream(call.method, self.url + call.path, **args) as response:
            if not response.is_success:
                await response.aread()
                return response
            with open(call.save_to, "wb") as fh:
                async for chunk in response.aiter_bytes():
                    fh.write(chunk)
        return response

    async def list_collections(self) -> list[str]:
        return [info["name"] for info in await self.run(plans.list_collections())]

    async def create_collection(
        self,
        name: str,
        *,
        signals: str | Sequence[str] | None = None,
        model: str | None = None,
        exist_ok: bool = False,
        on_unsafe: OnUnsafe | None = None,
        thumbnails: bool | None = None,
        precision: Precision | None = None,
    ) -> AsyncRemoteCollection:
        info = await self.run(
            plans.create_collection(
                name,
                signals=signals,
                model=model,
                exist_ok=exist_ok,
                thumbnails=thumbnails,
                on_unsafe=on_unsafe,
                precision=precision,
            )
        )
        return AsyncRemoteCollection(self, name, info)

    async def collection(self, name: str) -> AsyncRemoteCollection:
        return AsyncRemoteCollection(self, name, await self.run(plans.collection_info(name)))

    async def drop_collection(self, name: str) -> None:
        await self.run(plans.drop_collection(name))

    async def moderate(self, image: Any) -> dict[str, Any]:
        """As ``Engine.moderate``: ``{"safe", "nsfw", "threshold", "labels"}``; a path, bytes
        or PIL image is uploaded, an http(s) URL fetched by the server."""
        return await self.run(plans.moderate(None, image, self.max_image_bytes))

    async def aliases(self) -> dict[str, str]:
        """As ``Engine.aliases``: every alias and the collection it names."""
        return await self.run(plans.aliases())

    async def set_alias(self, alias: str, target: str | None) -> dict[str, str]:
        """As ``Engine.set_alias``: create or switch ``alias``; ``None`` removes it."""
        return await self.run(plans.set_alias(alias, target))

    async def reindex(
        self,
        name: str,
        *,
        model: str | None = None,
        signals: str | Sequence[str] | None = None,
        precision: str | None = None,
        drop_previous: bool = False,
        progress: Callable[[int, int, int], None] | None = None,
    ) -> ReindexReport:
        """As ``Engine.reindex``, run by the server as a job polled to its end;
        ``progress(done, indexed, failed)`` sees each poll."""
        plan = plans.reindex(
            name,
            model=model,
            signals=signals,
            precision=precision,
            drop_previous=drop_previous,
            on_progress=progress,
        )
        return from_dict(ReindexReport, await self.run(plan))

    async def jobs(self) -> list[dict[str, Any]]:
        return await self.run(plans.list_jobs())

    async def job(self, job_id: str) -> dict[str, Any]:
        return await self.run(plans.get_job(job_id))

    async def wait(
        self, job_id: str, progress: Callable[[int, int, int], None] | None = None
    ) -> IngestReport:
        return from_dict(IngestReport, await self.run(plans.wait_job(job_id, progress)))

    async def backup(self, name: str, file: str | os.PathLike[str]) -> BackupReport:
        """As ``Client.backup``: collection ``name`` downloaded as one file, written to
        ``file`` once complete."""
        return await self.run(plans.backup(name, file))

    async def restore(
        self, file: str | os.PathLike[str], *, name: str | None = None, overwrite: bool = False
    ) -> MigrationReport:
        """As ``Client.restore``: a backup file uploaded and restored as ``name``."""
        return await self.run(plans.restore(file, name=name, overwrite=overwrite))

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class AsyncRemoteCollection:
    """:class:`~lookalike.client.RemoteCollection` with ``await``."""

    def __init__(self, client: AsyncClient, name: str, config: dict[str, Any]) -> None:
        self.client = client
        self.name = name
        self.config = config

    def __repr__(self) -> str:
        signals = ",".join(self.config.get("signals") or [])
        return (
            f"AsyncRemoteCollection({self.name!r}, signals={signals!r}, server={self.client.url!r})"
        )

    @property
    def copy_threshold(self) -> float:
        found = self.config.get("copy_threshold")
        return COPY_THRESHOLD if found is None else float(found)

    async def index(
        self,
        inputs: Sequence[str | os.PathLike[str]],
        *,
        metadata_file: str | os.PathLike[str] | None = None,
        group_by_folder: bool = False,
        prune: bool = False,
        on_duplicate: OnDuplicate = "allow",
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        return await self.client.run(
            plans.index(
                self.name,
                inputs,
                metadata_file=metadata_file,
                group_by_folder=group_by_folder,
                prune=prune,
                on_duplicate=on_duplicate,
                progress=progress,
                max_bytes=self.client.max_image_bytes,
            )
        )

    async def add(
        self,
        items: Iterable[Any],
        *,
        progress: ProgressCallback | None = None,
        on_duplicate: OnDuplicate = "allow",
        background: bool = False,
    ) -> IngestReport:
        plan = plans.add(
            self.name, items, on_duplicate, progress, background, self.client.max_image_bytes
        )
        return await self.client.run(plan)

    async def search(
        self,
        *,
        image: Any = None,
        text: str | None = None,
        id: str | None = None,
        vector: Sequence[float] | None = None,
        positive: Sequence[Example] = (),
        negative: Sequence[Example] = (),
        region: tuple[float, float, float, float] | None = None,
        filter: Mapping[str, Any] | str | None = None,
        top_k: int = 10,
        threshold: float | None = None,
        signal: str | None = None,
        group: bool = False,
        group_score: str = "max",
        group_top: int = 3,
        face: int | None = None,
        box: tuple[float, float, float, float] | None = None,
        person: int | str | None = None,
        scores: Sequence[str] = (),
    ) -> list[SearchResult]:
        query = {
            "text": text,
            "id": id,
            "vector": vector,
            "positive": positive,
            "negative": negative,
            "region": region,
            "filter": filter,
            "top_k": top_k,
            "threshold": threshold,
            "signal": signal,
            "group": group,
            "group_score": None if group_score == "max" else group_score,
            "group_top": None if group_top == 3 else group_top,
            "face": face,
            "box": box,
            "person": person,
            "scores": list(scores),
        }
        return await self.client.run(
            plans.search(self.name, image, query, self.client.max_image_bytes)
        )

    async def duplicates(
        self,
        *,
        threshold: float | None = None,
        keep: str = "original",
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Cluster]:
        plan = plans.duplicates(self.name, threshold=threshold, keep=keep)
        clusters = await self.client.run(plan)
        if progress is not None:
            progress(1, 1)
        return clusters

    async def moderate(self, image: Any) -> dict[str, Any]:
        """As ``Collection.moderate``: checked as indexing into this collection would."""
        return await self.client.run(plans.moderate(self.name, image, self.client.max_image_bytes))

    async def people(self) -> list[Person]:
        """The people grouped so far, most faces first."""
        return await self.client.run(plans.people(self.name))

    async def cluster_people(self, *, full: bool = False) -> ClusterReport:
        """As ``Collection.cluster_people``; the server groups in one request."""
        return await self.client.run(plans.cluster_people(self.name, full=full))

    async def name_person(self, person: int | str, name: str | None) -> int:
        return await self.client.run(plans.name_person(self.name, person, name))

    async def merge_people(
        self, persons: Sequence[int | str], *, into: int | str | None = None
    ) -> int:
        return await self.client.run(plans.merge_people(self.name, persons, into))

    async def split_person(self, person: int | str, faces: Sequence[str | tuple[str, int]]) -> int:
        return await self.client.run(plans.split_person(self.name, person, faces))

    async def get(self, record_id: str) -> dict[str, Any]:
        return await self.client.run(plans.get(self.name, record_id))

    async def update(
        self,
        record_id: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        group: str | None = None,
        merge: bool = False,
    ) -> dict[str, Any]:
        plan = plans.update(self.name, record_id, metadata=metadata, group=group, merge=merge)
        return await self.client.run(plan)

    async def delete(self, record_ids: Sequence[str]) -> dict[str, bool]:
        return await self.client.run(plans.delete(self.name, record_ids))

    async def count(self, filter: Mapping[str, Any] | str | None = None) -> int:
        return await self.client.run(plans.count(self.name, filter))

    async def list_records(
        self,
        *,
        filter: Mapping[str, Any] | str | None = None,
        limit: int = 100,
        offset: str | None = None,
        sort: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        return await self.client.run(
            plans.list_records(self.name, filter=filter, limit=limit, offset=offset, sort=sort)
        )

    async def info(self) -> dict[str, Any]:
        self.config = await self.client.run(plans.collection_info(self.name))
        return self.config

    async def make_thumbnails(self, *, progress: ProgressCallback | None = None) -> ThumbnailReport:
        """As ``Collection.make_thumbnails``, run by the server as a job polled to its end
        (files are read there, under its ``allowed_roots``)."""
        result = await self.client.run(plans.make_thumbnails(self.name, progress))
        self.config["thumbnails"] = True
        return from_dict(ThumbnailReport, result)

    async def thumbnail(self, record_id: str) -> bytes:
        return await self.client.run(plans.thumbnail(self.name, record_id))
