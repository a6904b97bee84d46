"""Many clients at once, each a thread running the same loop (load tests and benchmarks)."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_clients(count: int, loop: Callable[[int], None], timeout: float | None = None) -> bool:
    """``loop(n)`` for each n below ``count``, all at once; whether every one ended within
    ``timeout`` seconds of being waited for."""
    threads = [threading.Thread(target=loop, args=(n,), daemon=True) for n in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return not any(t.is_alive() for t in threads)
