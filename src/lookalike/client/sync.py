"""``Client``: the Engine's methods over a lookalike server's REST API, blocking."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import httpx

from lookalike.client import plans
from lookalike.client.retry import DEFAULT_RETRY, Retry
from lookalike.client.shapes import from_dict
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
from lookalike.config import Settings
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

DEFAULT_URL = "http://127.0.0.1:8000"
SERVER_ENV = "LOOKALIKE_SERVER"
API_KEY_ENV = "LOOKALIKE_API_KEY"
MAX_IMAGE_BYTES = Settings.model_fields["max_image_bytes"].default


def server_url(url: str | None) -> str:
    """The server's base URL: as given, else ``LOOKALIKE_SERVER``, else the local default."""
    return (url or os.environ.get(SERVER_ENV) or DEFAULT_URL).rstrip("/")


def api_key_of(api_key: str | None) -> str | None:
    """The key sent as ``X-API-Key``: as given, else ``LOOKALIKE_API_KEY``, else none."""
    return api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None


def retry_of(retry: Retry | int) -> Retry:
    return retry if isinstance(retry, Retry) else Retry(retries=retry)


class Client:
    """A lookalike server, used like an :class:`~lookalike.Engine`::

        with Client("http://127.0.0.1:8000", api_key="...") as client:
            photos = client.collection("photos")
            hits = photos.search(image="query.jpg", top_k=5)

    ``url`` and ``api_key`` default to ``LOOKALIKE_SERVER`` and ``LOOKALIKE_API_KEY``;
    ``timeout`` is seconds per request (or an ``httpx.Timeout``); ``retry`` is how often a
    failed request is sent again (see :class:`~lookalike.client.Retry`). Errors are the core's
    (:mod:`lookalike.errors`), rebuilt from the server's answers."""

    def __init__(
        self,
        url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = 60.0,
        retry: Retry | int = DEFAULT_RETRY,
        max_image_bytes: int = MAX_IMAGE_BYTES,
        http: httpx.Client | None = None,
    ) -> None:
        self.url = server_url(url)
        self.timeout = timeout
        self.retry = retry_of(retry)
        self.max_image_bytes = max_image_bytes
        self._http = http or httpx.Client()
        key = api_key_of(api_key)
        if key:
            self._http.headers["X-API-Key"] = key

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def run(self, plan: Plan[T]) -> T:
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
                time.sleep(step.seconds)
                continue
            reply, error = self._send(step)

    def _send(self, call: Call) -> tuple[Reply | None, LookalikeError | None]:
        """One call, sent again as :attr:`retry` allows; its reply or the error it ended with."""
        attempt = 0
        while True:
            try:
                response = self._exchange(call)
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
            time.sleep(wait)
            attempt += 1

    def _exchange(self, call: Call) -> httpx.Response:
        """The response to ``call``, its body read, or streamed into ``call.save_to``."""
        args = request_args(call, self.timeout)
        if call.body_file is not None:
            args["content"] = file_chunks(call.body_file)
        if call.save_to is None:
            return self._http.request(call.method, self.url + call.path, **args)
        with self._http.stream(call.method, self.url + call.path, **args) as response:
            if not response.is_success:
                response.read()
                return response
            with open(call.save_to, "wb") as fh:
                for chunk in response.iter_bytes():
                    fh.write(chunk)
        return response

    # the Engine's methods -----------------------------------------------------------------

    def list_collections(self) -> list[str]:
        return [info["name"] for info in self.run(plans.list_collections())]

    def create_collection(
        self,
        name: str,
        *,
        signals: str | Sequence[str] | None = None,
        model: str | None = None,
        exist_ok: bool = False,
        on_unsafe: OnUnsafe | None = None,
        thumbnails: bool | None = None,
        precision: Precision | None = None,
    ) -> RemoteCollection:
        info = self.run(
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
        return RemoteCollection(self, name, info)

    def collection(self, name: str) -> RemoteCollection:
        """An existing collection (``NotFound`` if there is none)."""
        return RemoteCollection(self, name, self.run(plans.collection_info(name)))

    def drop_collection(self, name: str) -> None:
        self.run(plans.drop_collection(name))

    def moderate(self, image: Any) -> dict[str, Any]:
        """As ``Engine.moderate``: ``{"safe", "nsfw", "threshold", "labels"}``; a path, bytes
        or PIL image is uploaded, an http(s) URL fetched by the server."""
        return self.run(plans.moderate(None, image, self.max_image_bytes))

    def aliases(self) -> dict[str, str]:
        """As ``Engine.aliases``: every alias and the collection it names."""
        return self.run(plans.aliases())

    def set_alias(self, alias: str, target: str | None) -> dict[str, str]:
        """As ``Engine.set_alias``: create or switch ``alias``; ``None`` removes it."""
        return self.run(plans.set_alias(alias, target))

    def reindex(
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
        return from_dict(ReindexReport, self.run(plan))

    # jobs ---------------------------------------------------------------------------------

    def jobs(self) -> list[dict[str, Any]]:
        return self.run(plans.list_jobs())

    def job(self, job_id: str) -> dict[str, Any]:
        return self.run(plans.get_job(job_id))

    def wait(
        self, job_id: str, progress: Callable[[int, int, int], None] | None = None
    ) -> IngestReport:
        """Poll a background job until it ends; its report. ``progress(done, indexed,
        failed)`` sees each poll."""
        return from_dict(IngestReport, self.run(plans.wait_job(job_id, progress)))

    # backups ------------------------------------------------------------------------------

    def backup(self, name: str, file: str | os.PathLike[str]) -> BackupReport:
        """As ``Engine.backup``: collection ``name`` downloaded as one file, written to
        ``file`` once complete."""
        return self.run(plans.backup(name, file))

    def restore(
        self, file: str | os.PathLike[str], *, name: str | None = None, overwrite: bool = False
    ) -> MigrationReport:
        """As ``Engine.restore``: a backup file uploaded and restored as ``name``."""
        return self.run(plans.restore(file, name=name, overwrite=overwrite))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RemoteCollection:
    """A server's collection, with :class:`~lookalike.Collection`'s methods and answers."""

    def __init__(self, client: Client, name: str, config: dict[str, Any]) -> None:
        self.client = client
        self.name = name
        self.config = config
        """The collection's info when it was opened."""

    def __repr__(self) -> str:
        signals = ",".join(self.config.get("signals") or [])
        return f"RemoteCollection({self.name!r}, signals={signals!r}, server={self.client.url!r})"

    @property
    def copy_threshold(self) -> float:
        found = self.config.get("copy_threshold")
        return COPY_THRESHOLD if found is None else float(found)

    def index(
        self,
        inputs: Sequence[str | os.PathLike[str]],
        *,
        metadata_file: str | os.PathLike[str] | None = None,
        group_by_folder: bool = False,
        prune: bool = False,
        on_duplicate: OnDuplicate = "allow",
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """As ``Collection.index``: inputs are read here, their files uploaded."""
        return self.client.run(
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

    def add(
        self,
        items: Iterable[Any],
        *,
        progress: ProgressCallback | None = None,
        on_duplicate: OnDuplicate = "allow",
        background: bool = False,
    ) -> IngestReport:
        """Add paths, URLs, bytes, PIL images, or dicts as ``Collection.add`` takes them.
        ``background`` asks the server to run URL batches as a job (polled here)."""
        plan = plans.add(
            self.name, items, on_duplicate, progress, background, self.client.max_image_bytes
        )
        return self.client.run(plan)

    def search(
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
        """As ``Collection.search``; ``image`` may also be a PIL image."""
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
        return self.client.run(plans.search(self.name, image, query, self.client.max_image_bytes))

    def duplicates(
        self,
        *,
        threshold: float | None = None,
        keep: str = "original",
        progress: Callable[[int, int], None] | None = None,
    ) -> list[Cluster]:
        """As ``Collection.duplicates``; ``progress`` only hears the end (the server works in
        one request)."""
        clusters = self.client.run(plans.duplicates(self.name, threshold=threshold, keep=keep))
        if progress is not None:
            progress(1, 1)
        return clusters

    def moderate(self, image: Any) -> dict[str, Any]:
        """As ``Collection.moderate``: checked as indexing into this collection would."""
        return self.client.run(plans.moderate(self.name, image, self.client.max_image_bytes))

    def people(self) -> list[Person]:
        """The people grouped so far, most faces first."""
        return self.client.run(plans.people(self.name))

    def cluster_people(self, *, full: bool = False) -> ClusterReport:
        """As ``Collection.cluster_people``; the server groups in one request."""
        return self.client.run(plans.cluster_people(self.name, full=full))

    def name_person(self, person: int | str, name: str | None) -> int:
        return self.client.run(plans.name_person(self.name, person, name))

    def merge_people(self, persons: Sequence[int | str], *, into: int | str | None = None) -> int:
        return self.client.run(plans.merge_people(self.name, persons, into))

    def split_person(self, person: int | str, faces: Sequence[str | tuple[str, int]]) -> int:
        return self.client.run(plans.split_person(self.name, person, faces))

    def get(self, record_id: str) -> dict[str, Any]:
        return self.client.run(plans.get(self.name, record_id))

    def update(
        self,
        record_id: str,
        *,
        metadata: Mapping[str, Any] | None = None,
        group: str | None = None,
        merge: bool = False,
    ) -> dict[str, Any]:
        plan = plans.update(self.name, record_id, metadata=metadata, group=group, merge=merge)
        return self.client.run(plan)

    def delete(self, record_ids: Sequence[str]) -> dict[str, bool]:
        return self.client.run(plans.delete(self.name, record_ids))

    def count(self, filter: Mapping[str, Any] | str | None = None) -> int:
        return self.client.run(plans.count(self.name, filter))

    def list_records(
        self,
        *,
        filter: Mapping[str, Any] | str | None = None,
        limit: int = 100,
        offset: str | None = None,
        sort: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        return self.client.run(
            plans.list_records(self.name, filter=filter, limit=limit, offset=offset, sort=sort)
        )

    def info(self) -> dict[str, Any]:
        self.config = self.client.run(plans.collection_info(self.name))
        return self.config

    def make_thumbnails(self, *, progress: ProgressCallback | None = None) -> ThumbnailReport:
        """As ``Collection.make_thumbnails``, run by the server as a job polled to its end
        (files are read there, under its ``allowed_roots``)."""
        result = self.client.run(plans.make_thumbnails(self.name, progress))
        self.config["thumbnails"] = True
        return from_dict(ThumbnailReport, result)

    def thumbnail(self, record_id: str) -> bytes:
        """The record's JPEG thumbnail (collections made with ``thumbnails``)."""
        return self.client.run(plans.thumbnail(self.name, record_id))
