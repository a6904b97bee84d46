"""Ingest on a Ray cluster: the same decode, signals and records as a local ingest; the
listing runs as a cluster task, decoding and embedding on a pool of worker actors that load
the models once; the driver triages and writes.

Ray is an optional extra (``pip install "lookalike[ray]"``); nothing here imports it until a
run asks for the cluster.
"""

from lookalike.distributed.ray_ingest import RayIngest, Resources, ray_index

__all__ = ["RayIngest", "Resources", "ray_index"]
