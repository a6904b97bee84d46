"""The Python SDK: a lookalike server's REST API with the Engine's methods, sync and async.

``Client`` / ``RemoteCollection`` and ``AsyncClient`` / ``AsyncRemoteCollection`` answer as
``Engine`` / ``Collection`` do (``SearchResult``, ``IngestReport``, ``Cluster``, dicts) and raise
the same :mod:`lookalike.errors`, so code moves between in-process and remote by changing one
line. Both drive the same plans (:mod:`lookalike.client.plans`): one implementation."""

from lookalike.client.aio import AsyncClient, AsyncRemoteCollection
from lookalike.client.sync import Client, RemoteCollection

__all__ = ["AsyncClient", "AsyncRemoteCollection", "Client", "RemoteCollection"]
