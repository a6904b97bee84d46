"""Downloading a known model's tower from the hub into a plain folder, with a progress bar.

The files are fetched by their hub URLs (``HF_ENDPOINT/{repo}/resolve/main/{file}``, proxies
from the environment), sized first, so the bar shows the whole download's size, speed and time
left. Each file is written under a temporary name and renamed when complete; a lock on the
folder lets one process download while others (decode workers starting together) wait for it.
The folder has the layout of ``model_dir``, so it can be copied as is to an offline machine.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from lookalike.errors import ModelUnavailable

OPTIONAL_FILES = ("config.json", "special_tokens_map.json")
"""Files the loaders read when a repository has them."""
CHUNK = 1 << 20


def hub_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def file_url(repo: str, name: str) -> str:
    return f"{hub_endpoint()}/{repo}/resolve/main/{name}"


def fetch_tower(repo: str, required: Sequence[str], target: Path, *, label: str) -> Path:
    """``required`` files of hub repository ``repo`` (and the optional ones it has) in
    ``target``; what is there already is kept. ModelUnavailable names what failed."""
    target.mkdir(parents=True, exist_ok=True)
    with _folder_lock(target):
        timeout = httpx.Timeout(30.0, read=60.0)
        with httpx.Client(follow_redirects=True, timeout=timeout) as http:
            sizes = _sizes(http, repo, required, target)
            if sizes:
                _fetch_all(http, repo, sizes, target, label)
    return target


def _sizes(http: httpx.Client, repo: str, required: Sequence[str], target: Path) -> dict[str, int]:
    """Each file still to fetch and its size in bytes (0: not told)."""
    sizes: dict[str, int] = {}
    for name in dict.fromkeys([*required, *OPTIONAL_FILES]):
        if (target / name).is_file():
            continue
        url = file_url(repo, name)
        try:
            head = http.head(url)
        except httpx.HTTPError as exc:
            raise _failed(repo, url, str(exc) or type(exc).__name__) from exc
        if head.status_code == 404 and name not in required:
            continue
        if not head.is_success:
            raise _failed(repo, url, f"HTTP {head.status_code}")
        sizes[name] = int(head.headers.get("content-length") or 0)
    return sizes


def _fetch_all(
    http: httpx.Client, repo: str, sizes: dict[str, int], target: Path, label: str
) -> None:
    from tqdm import tqdm  # type: ignore[import-untyped]  # fastembed's and the hub's own progress bars use it too

    total = sum(sizes.values()) or None
    with tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=f"downloading {label}",
        file=sys.stderr,
        mininterval=0.5,
        dynamic_ncols=True,
    ) as bar:
        for name in sizes:
            _fetch(http, repo, name, target / name, bar.update)


def _fetch(
    http: httpx.Client, repo: str, name: str, path: Path, advance: Callable[[int], object]
) -> None:
    url = file_url(repo, name)
    partial = path.with_name(path.name + ".partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with http.stream("GET", url) as response:
            if not response.is_success:
                raise _failed(repo, url, f"HTTP {response.status_code}")
            with open(partial, "wb") as fh:
                for chunk in response.iter_bytes(CHUNK):
                    fh.write(chunk)
                    advance(len(chunk))
    except httpx.HTTPError as exc:
        partial.unlink(missing_ok=True)
        raise _failed(repo, url, str(exc) or type(exc).__name__) from exc
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ModelUnavailable(
            f"cannot write {path}: {exc.strerror}", detail={"repo": repo, "path": str(path)}
        ) from exc
    partial.replace(path)


def _failed(repo: str, url: str, why: str) -> ModelUnavailable:
    return ModelUnavailable(
        f"cannot download {repo}: {url}: {why}", detail={"repo": repo, "url": url}
    )


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    with open(folder.parent / f".{folder.name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
