"""Backups over HTTP: download a collection as one file, restore one by uploading it.

Both run while the server keeps serving the collection (the engine lends it to the copy). The
restore body streams to a temporary file, so it is not bound by ``max_request_bytes``; it is
checked against the backup's manifest and checksums before anything is written.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from lookalike.api.errors import error_responses
from lookalike.api.state import State
from lookalike.errors import LookalikeError

RESTORE_PATH = "/collections/restore"
BACKUP_TYPE = "application/gzip"
UPLOADED = "the uploaded backup"
"""How a restore's errors name the body's file (the server's temporary file is none of the
client's business)."""
router = APIRouter(tags=["collections"])


@router.get(
    "/collections/{name}/backup",
    response_class=FileResponse,
    responses={
        200: {"content": {BACKUP_TYPE: {"schema": {"type": "string", "format": "binary"}}}},
        **error_responses(401, 403, 404, 422),
    },
)
async def backup(name: str, state: State) -> FileResponse:
    """The collection as one file: a manifest (versions, configuration, counts, checksums) and
    its records with their vectors (``lookalike restore`` reads it)."""
    await run_in_threadpool(state.collection, name)  # 404 before any work
    fd, tmp = tempfile.mkstemp(prefix="lookalike-backup-", suffix=".tar.gz")
    os.close(fd)
    try:
        await run_in_threadpool(state.engine.backup, name, tmp)
    except BaseException:
        os.unlink(tmp)
        raise
    return FileResponse(
        tmp,
        media_type=BACKUP_TYPE,
        filename=f"{name}.lookalike-backup",
        background=BackgroundTask(os.unlink, tmp),
    )


@router.post(
    RESTORE_PATH,
    openapi_extra={"requestBody": {"content": {BACKUP_TYPE: {}}}},
    responses=error_responses(400, 401, 403, 409, 422),
)
async def restore(
    request: Request,
    state: State,
    name: Annotated[
        str | None, Query(description="Restore as (default: the backup's name).")
    ] = None,
    overwrite: Annotated[bool, Query(description="Replace a collection holding records.")] = False,
) -> dict[str, Any]:
    """Restore a backup file sent as the request body; answers the copy's report."""
    fd, tmp = tempfile.mkstemp(prefix="lookalike-restore-", suffix=".tar.gz")
    try:
        with os.fdopen(fd, "wb") as fh:
            async for chunk in request.stream():
                fh.write(chunk)
        report = await run_in_threadpool(
            state.engine.restore, Path(tmp), name=name, overwrite=overwrite
        )
    except LookalikeError as exc:  # its message names the file: the client's is no path here
        exc.message = exc.message.replace(tmp, UPLOADED)
        exc.args = (exc.message,)
        raise
    finally:
        os.unlink(tmp)
    return report.to_dict()
