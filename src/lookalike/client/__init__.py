"""The Python SDK: a lookalike server's REST API with the Engine's methods, sync and async.

``Client`` / ``RemoteCollection`` and ``AsyncClient`` / ``AsyncRemoteCollection`` answer as
``Engine`` / ``Collection`` do (``SearchResult``, ``IngestReport``, ``Cluster``, dicts) and raise
the same errors (importable from here too), so code moves between in-process and remote by
changing one line. Both drive the same plans (:mod:`lookalike.client.plans`): one
implementation. Importing it loads none of the core's decoders or models."""

from lookalike.client.aio import AsyncClient, AsyncRemoteCollection
from lookalike.client.retry import Retry
from lookalike.client.sync import Client, RemoteCollection
from lookalike.errors import (
    BadImage,
    BadInput,
    Conflict,
    DiskFull,
    FetchError,
    Forbidden,
    ForbiddenAddress,
    ForbiddenPath,
    ImageTooLarge,
    InvalidFilter,
    InvalidQuery,
    LookalikeError,
    MissingExtra,
    ModelMismatch,
    ModelUnavailable,
    NotFound,
    StoreLocked,
    StoreUnavailable,
    Unauthorized,
    UnsafeImage,
    UnsupportedFormat,
)
from lookalike.types import (
    Cluster,
    ClusterReport,
    IngestReport,
    Person,
    Progress,
    SearchResult,
)

__all__ = [
    "AsyncClient",
    "AsyncRemoteCollection",
    "BadImage",
    "BadInput",
    "Client",
    "Cluster",
    "ClusterReport",
    "Conflict",
    "DiskFull",
    "FetchError",
    "Forbidden",
    "ForbiddenAddress",
    "ForbiddenPath",
    "ImageTooLarge",
    "IngestReport",
    "InvalidFilter",
    "InvalidQuery",
    "LookalikeError",
    "MissingExtra",
    "ModelMismatch",
    "ModelUnavailable",
    "NotFound",
    "Person",
    "Progress",
    "RemoteCollection",
    "Retry",
    "SearchResult",
    "StoreLocked",
    "StoreUnavailable",
    "Unauthorized",
    "UnsafeImage",
    "UnsupportedFormat",
]
