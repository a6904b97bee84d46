"""The one URL fetcher of lookalike, safe to point at user-supplied URLs.

A URL given by a user must not become a way to reach the server's own network (SSRF): every
host is resolved here, every resolved address is checked, and the connection goes to the
checked address (the original name travels in the Host header and the TLS SNI), so a DNS
answer cannot change between the check and the connection. Redirects are followed by hand so
each hop gets the same check. Environment proxies are ignored for the same reason.
"""

from __future__ import annotations

import ipaddress
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from types import TracebackType
from typing import TypeAlias

import httpx

from lookalike.config import Settings
from lookalike.errors import (
    BadImage,
    BadInput,
    FetchError,
    ForbiddenAddress,
    ImageTooLarge,
    LookalikeError,
    UnsupportedFormat,
)
from lookalike.formats import sniff_format

__all__ = ["Fetcher", "Resolver"]

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
"""``resolve(host, port) -> addresses``; the default asks the system resolver."""

MAX_REDIRECTS = 5
_REDIRECTS = {301, 302, 303, 307, 308}
_OCTET_TYPES = {"", "application/octet-stream", "binary/octet-stream"}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_USER_AGENT = "lookalike/0.1 (+image fetcher)"


class _Retry(Exception):
    """A failure worth another attempt (429, 5xx, connection trouble)."""

    def __init__(self, error: FetchError, retry_after: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after


class Fetcher:
    """Fetches image bytes from http(s) URLs with limits, retries and address checks.

    ``backoff_base`` (seconds, doubled per retry, jittered) and ``max_retry_after`` (cap on a
    server's Retry-After) are arguments so tests can run fast. ``deadline`` bounds one
    ``fetch`` call, redirects and retries included (default: four times ``fetch_timeout``).
    ``allowed_networks`` (CIDRs) are reachable even when private addresses are refused, e.g.
    an internal image CDN. ``resolve`` and ``transport`` are seams for callers and tests.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        backoff_base: float = 0.5,
        max_retry_after: float = 10.0,
        deadline: float | None = None,
        allowed_networks: Iterable[str] | None = None,
        resolve: Resolver | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.backoff_base = backoff_base
        self.max_retry_after = max_retry_after
        self.deadline = deadline if deadline is not None else 4 * settings.fetch_timeout
        try:
            networks = settings.allowed_networks if allowed_networks is None else allowed_networks
            self._allowed = [ipaddress.ip_network(n, strict=False) for n in networks]
        except ValueError as exc:
            raise BadInput(f"allowed networks: {exc}") from exc
        self._resolve = resolve or _system_resolve
        self._transport = transport
        self._closed = threading.Event()
        self._made: httpx.Client | None = None
        self._making = threading.Lock()

    @property
    def _client(self) -> httpx.Client:
        """Made on the first fetch: its TLS context costs milliseconds of CPU, held under the
        interpreter lock, which an ingest of uploaded bytes (one per insert request) never
        needs."""
        with self._making:
            if self._made is None:
                self._made = self._new_client()
            return self._made

    def _new_client(self) -> httpx.Client:
        settings = self.settings
        return httpx.Client(
            timeout=httpx.Timeout(settings.fetch_timeout),
            follow_redirects=False,
            trust_env=False,
            cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
            limits=httpx.Limits(max_connections=max(1, settings.fetch_concurrency) * 2),
            headers={
                "User-Agent": _USER_AGENT,
                "Accept": "image/*,*/*;q=0.5",
                "Accept-Encoding": "identity",
            },
            transport=self._transport,
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._closed.set()
        with self._making:
            if self._made is not None:
                self._made.close()

    def fetch(self, url: str) -> bytes:
        """Return the body of ``url``, or raise a FetchError (or subclass) naming it."""
        deadline = time.monotonic() + self.deadline
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            body, location = self._with_retries(current, url, deadline)
            if location is None:
                assert body is not None
                return body
            current = location
        raise FetchError(f"cannot fetch {url}: more than {MAX_REDIRECTS} redirects")

    def fetch_many(self, urls: Iterable[str]) -> Iterator[tuple[str, bytes | LookalikeError]]:
        """Concurrent with at most settings.fetch_concurrency in flight; yields as they finish."""
        workers = max(1, self.settings.fetch_concurrency)
        pending: dict[Future[bytes | LookalikeError], str] = {}
        source = iter(urls)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lookalike-fetch")
        try:
            exhausted = False
            while True:
                while not exhausted and len(pending) < workers:
                    nxt = next(source, None)
                    if nxt is None:
                        exhausted = True
                        break
                    pending[pool.submit(self._fetch_outcome, nxt)] = nxt
                if not pending:
                    return
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
        finally:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=False)

    # -- internals -------------------------------------------------------------------------

    def _fetch_outcome(self, url: str) -> bytes | LookalikeError:
        try:
            return self.fetch(url)
        except LookalikeError as exc:
            return exc
        except Exception as exc:  # one broken URL must not end a batch
            return FetchError(f"cannot fetch {url}: {type(exc).__name__}: {exc}")

    def _with_retries(
        self, url: str, origin: str, deadline: float
    ) -> tuple[bytes | None, str | None]:
        attempt = 0
        while True:
            try:
                return self._attempt(url, origin, deadline)
            except _Retry as retry:
                delay = self.backoff_base * (2**attempt) * random.uniform(0.5, 1.5)
                if retry.retry_after is not None:
                    delay = max(delay, min(retry.retry_after, self.max_retry_after))
                delay = min(delay, self.max_retry_after)
                if (
                    attempt >= self.settings.fetch_retries
                    or time.monotonic() + delay >= deadline
                    or self._closed.wait(delay)  # sleeps, but wakes at once on close()
                ):
                    error = retry.error
                    if attempt:
                        error = FetchError(
                            f"{error.message} (after {attempt + 1} attempts)", detail=error.detail
                        )
                    raise error from retry.__cause__
                attempt += 1

    def _attempt(self, url: str, origin: str, deadline: float) -> tuple[bytes | None, str | None]:
        """One request to one hop: (body, None), or (None, next URL) for a redirect."""
        name = url if url == origin else f"{url} (redirected from {origin})"
        target = self._parse(url, name)
        addresses = self._checked_addresses(target, name)
        host = target.host
        extensions: dict[str, object] = {}
        if target.scheme == "https" and not _is_ip_literal(host):
            extensions["sni_hostname"] = target.raw_host.decode("ascii")  # IDNA form
        last_error: _Retry | None = None
        for address in addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError(f"cannot fetch {name}: timed out after {self.deadline:g} s")
            timeout = httpx.Timeout(min(self.settings.fetch_timeout, remaining))
            pinned = target.copy_with(host=address)
            try:
                with self._client.stream(
                    "GET",
                    pinned,
                    headers={"Host": target.netloc.decode("ascii")},
                    timeout=timeout,
                    extensions=extensions,
                ) as response:
                    return self._handle(response, url, name, deadline)
            except httpx.TimeoutException as exc:
                raise _Retry(FetchError(f"cannot fetch {name}: timed out ({exc})")) from exc
            except httpx.ConnectError as exc:
                last_error = _Retry(FetchError(f"cannot fetch {name}: cannot connect ({exc})"))
            except httpx.TransportError as exc:
                raise _Retry(FetchError(f"cannot fetch {name}: {exc}")) from exc
        assert last_error is not None
        raise last_error

    def _handle(
        self, response: httpx.Response, url: str, name: str, deadline: float
    ) -> tuple[bytes | None, str | None]:
        status = response.status_code
        if status in _REDIRECTS:
            location = response.headers.get("Location")
            if not location:
                raise FetchError(f"cannot fetch {name}: HTTP {status} without a Location")
            try:
                return None, str(httpx.URL(url).join(location))
            except httpx.InvalidURL as exc:
                raise FetchError(f"cannot fetch {name}: bad redirect {location!r}") from exc
        if status == 429 or status >= 500:
            error = FetchError(f"cannot fetch {name}: HTTP {status}", detail={"status": status})
            raise _Retry(error, _retry_after(response.headers.get("Retry-After")))
        if not 200 <= status < 300:
            raise FetchError(f"cannot fetch {name}: HTTP {status}", detail={"status": status})

        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if not content_type.startswith("image/") and content_type not in _OCTET_TYPES:
            raise UnsupportedFormat(f"{name} is {content_type}, not an image")
        limit = self.settings.max_image_bytes
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > limit:
            raise ImageTooLarge(f"{name} is {int(length)} bytes, more than the {limit} allowed")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise ImageTooLarge(f"{name} is more than the {limit} bytes allowed")
            if time.monotonic() > deadline:
                raise FetchError(f"cannot fetch {name}: timed out after {self.deadline:g} s")
            chunks.append(chunk)
        body = b"".join(chunks)
        if not body:
            raise BadImage(f"{name} returned an empty body")
        if not content_type.startswith("image/") and sniff_format(body) is None:
            shown = content_type or "no content type"
            raise UnsupportedFormat(f"{name} is {shown} and its bytes are not a known image")
        return body, None

    def _parse(self, url: str, name: str) -> httpx.URL:
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise FetchError(f"cannot fetch {name}: invalid URL ({exc})") from exc
        if target.scheme not in ("http", "https"):
            shown = target.scheme or "no scheme"
            raise FetchError(f"cannot fetch {name}: only http and https URLs ({shown})")
        if not target.host:
            raise FetchError(f"cannot fetch {name}: no host")
        return target

    def _checked_addresses(self, target: httpx.URL, name: str) -> list[str]:
        host = target.host
        port = target.port or (443 if target.scheme == "https" else 80)
        if _is_ip_literal(host):
            found: Sequence[str] = [host]
        else:
            try:
                found = self._resolve(target.raw_host.decode("ascii"), port)
            except (OSError, UnicodeError) as exc:  # UnicodeError: a label over 63 characters
                raise FetchError(f"cannot fetch {name}: cannot resolve {host} ({exc})") from exc
        if not found:
            raise FetchError(f"cannot fetch {name}: {host} has no address")
        addresses = []
        for text in found:
            try:
                address = ipaddress.ip_address(text.split("%", 1)[0])
            except ValueError as exc:
                raise FetchError(f"cannot fetch {name}: {host} resolved to {text!r}") from exc
            if not self.settings.allow_private_urls and not self._is_allowed(address):
                reason = _forbidden_reason(address)
                if reason is not None:
                    kind = f"{'an' if reason[0] in 'aeiou' else 'a'} {reason} address"
                    what = kind if str(address) == host else f"{address}, {kind}"
                    raise ForbiddenAddress(
                        f"refusing to fetch {name}: {host} is {what}",
                        detail={"host": host, "address": str(address)},
                    )
            addresses.append(str(address))
        return addresses

    def _is_allowed(self, address: IPAddress) -> bool:
        return any(address.version == n.version and address in n for n in self._allowed)


def _system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _forbidden_reason(address: IPAddress) -> str | None:
    """Why ``address`` must not be fetched from, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return _forbidden_reason(address.ipv4_mapped)
        embedded = [address.sixtofour, address.teredo[1] if address.teredo else None]
        if address in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        for inner in embedded:
            reason = _forbidden_reason(inner) if inner is not None else None
            if reason is not None:
                return reason
    checks = (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    )
    for attribute, reason in checks:
        if getattr(address, attribute):
            return reason
    if not address.is_global:
        return "non-public"
    return None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
