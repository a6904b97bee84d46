"""Ingest on a Ray cluster: the same decode, signals and records as a local ingest, run by
worker actors that load the models once; the driver lists, triages and writes.

Ray is an optional extra (``pip install "lookalike[ray]"``); nothing here imports it until a
run asks for the cluster.
"""

from lookalike.distributed.ray_ingest import RayIngest, ray_index

__all__ = ["RayIngest", "ray_index"]
