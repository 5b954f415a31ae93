"""The ledger's REST API over HTTPS (httpx): JSON answers, paginated lists, and image downloads.

Every failure becomes one :class:`LedgerUnreachable` (the network, TLS, a timeout, a server error:
worth trying again later) or :class:`~.ledger.LedgerError` (an answer that cannot be used), each
with the host in its message; a 404 is :class:`LedgerNotFound` (the ledger has no such entry).

TLS is checked against the system's trust store through :func:`ssl.create_default_context`, which
also honours ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` (a test's own CA, a corporate proxy's); httpx's
default would use certifi's bundle instead and ignore the system's.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from .checksum import ChecksumError, ImageDigest
from .ledger import LedgerError
from .sources import LedgerSource

__all__ = ["DownloadRefused", "LedgerClient", "LedgerNotFound", "LedgerUnreachable", "tls_context"]

CONNECT_TIMEOUT = 5.0  # seconds (matter.js gives a whole request 5 s)
READ_TIMEOUT = 15.0  # seconds without a byte, once connected
RETRIES = 2  # more attempts after a network failure or a 5xx, with RETRY_PAUSE * attempt between
RETRY_PAUSE = 0.5
MAX_PAGES = 1000  # a list endpoint that never stops paginating is cut off here


class LedgerUnreachable(Exception):
    """The ledger (or an image's server) did not answer usefully; trying again later may work."""


class LedgerNotFound(LedgerError):
    """The ledger answered 404: it has no such entry."""


class DownloadRefused(Exception):
    """The downloaded image is not the one the ledger published (size or checksum): not offered."""


def tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    cause: BaseException | None = exc
    while cause is not None:  # the innermost says it best ("certificate verify failed", "Name or service not known")
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"its TLS certificate is not trusted ({cause.verify_message}; set SSL_CERT_FILE for a private CA)"
        if cause.__cause__ is None and cause.__context__ is None:
            break
        cause = cause.__cause__ or cause.__context__
    text = str(cause or exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


class LedgerClient:
    def __init__(
        self,
        source: LedgerSource,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retries: int = RETRIES,
        retry_pause: float = RETRY_PAUSE,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.source = source
        self.retries = retries
        self.retry_pause = retry_pause
        self.requests = 0  # sent, retries included (the cache's benchmark counts them)
        self._http = httpx.AsyncClient(
            base_url=source.base_url,
            verify=tls_context(),
            timeout=httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT),
            transport=transport,
            headers={"Accept": "application/json"},
            follow_redirects=True,
            trust_env=True,  # HTTPS_PROXY and NO_PROXY, as any other tool on the bench
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ JSON

    async def get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        response = await self._send(lambda: self._http.get(path, params=params), self.source.host)
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise LedgerError(f"{self.source.host} answered {path} with something that is not JSON") from None

    async def get_bytes(self, url: str, limit: int) -> bytes:
        """A small file anywhere (a CRL): at most ``limit`` bytes, else LedgerError."""
        host = httpx.URL(url).host
        response = await self._send(lambda: self._http.get(url, headers={"Accept": "*/*"}), host)
        if len(response.content) > limit:
            raise LedgerError(f"{host} sent more than {limit} bytes for {httpx.URL(url).path}")
        return response.content

    async def get_list(self, path: str, field: str) -> list[Any]:
        """Every item of a paginated list (``pagination.next_key``)."""
        items: list[Any] = []
        key: str | None = None
        for _ in range(MAX_PAGES):
            answer = await self.get_json(path, {"pagination.key": key} if key else None)
            page = answer.get(field) if isinstance(answer, dict) else None
            if isinstance(page, list):
                items.extend(page)
            pagination = answer.get("pagination") if isinstance(answer, dict) else None
            key = pagination.get("next_key") if isinstance(pagination, dict) else None
            if not key or not isinstance(key, str):
                return items
        raise LedgerError(f"{self.source.host} kept paginating {path} past {MAX_PAGES} pages")

    async def _send(self, request: Callable[[], Any], host: str) -> httpx.Response:
        failure = LedgerUnreachable(f"{host}: not tried")
        for attempt in range(self.retries + 1):
            self.requests += 1
            try:
                response: httpx.Response = await request()
            except httpx.HTTPError as exc:
                failure = LedgerUnreachable(f"{host}: {_reason(exc)}")
            else:
                if response.status_code == 404:
                    raise LedgerNotFound(f"{host} has no {response.url.path}")
                if response.status_code < 400:
                    return response
                failure = LedgerUnreachable(f"{host} answered HTTP {response.status_code} for {response.url.path}")
                if response.status_code < 500 and response.status_code != 429:
                    raise LedgerError(str(failure))
            if attempt < self.retries:
                await asyncio.sleep(self.retry_pause * (attempt + 1))
        raise failure

    # ------------------------------------------------------------------ images

    async def download(
        self,
        url: str,
        destination: Path,
        *,
        size: int,
        checksum: bytes,
        checksum_type: int,
        progress: Callable[[int], None] = lambda _done: None,
    ) -> None:
        """``url`` into ``destination``, checked as it streams: never more than ``size`` bytes
        written, and the whole file's digest compared with the ledger's before it is renamed into
        place. A failed check raises :class:`DownloadRefused`, a failed transfer
        :class:`LedgerUnreachable`; neither leaves a file behind."""
        host = httpx.URL(url).host
        try:
            ImageDigest(checksum_type)  # a checksum type we cannot check refuses the image before any byte
        except ChecksumError as exc:
            raise DownloadRefused(str(exc)) from None
        failure = LedgerUnreachable(f"{host}: not tried")
        partial = destination.with_name(destination.name + ".part")
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            for attempt in range(self.retries + 1):
                self.requests += 1
                try:
                    done = await self._stream(url, partial, size, ImageDigest(checksum_type), progress)
                    break
                except httpx.HTTPError as exc:
                    failure = LedgerUnreachable(f"{host}: {_reason(exc)}")
                except _HttpStatus as exc:
                    if exc.status == 404:
                        raise LedgerUnreachable(f"{host} has no {httpx.URL(url).path} (HTTP 404)") from None
                    failure = LedgerUnreachable(f"{host} answered HTTP {exc.status} for the image")
                    if exc.status < 500:
                        raise failure from None
                if attempt < self.retries:
                    await asyncio.sleep(self.retry_pause * (attempt + 1))
            else:
                raise failure
            received, digest = done
            if received != size:
                raise DownloadRefused(f"the image has {received} bytes; the ledger published {size}")
            try:
                digest.check(checksum)
            except ChecksumError as exc:
                raise DownloadRefused(str(exc)) from None
            os.replace(partial, destination)
        finally:
            partial.unlink(missing_ok=True)

    async def _stream(
        self, url: str, partial: Path, size: int, digest: ImageDigest, progress: Callable[[int], None]
    ) -> tuple[int, ImageDigest]:
        received = 0
        async with self._http.stream("GET", url, headers={"Accept": "*/*"}) as response:
            if response.status_code >= 400:
                raise _HttpStatus(response.status_code)
            with partial.open("wb") as file:
                async for chunk in response.aiter_bytes():  # as they arrive: the progress moves
                    received += len(chunk)
                    if received > size:
                        raise DownloadRefused(f"the image is larger than the {size} bytes the ledger published")
                    digest.update(chunk)
                    file.write(chunk)
                    progress(received)
                file.flush()
                os.fsync(file.fileno())
        return received, digest


class _HttpStatus(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status
