"""Updates from the ledger: for a requestor's VID/PID and version, the version the ledger's rules
pick (:func:`.ledger.choose`), downloaded over HTTPS into the state directory, checked (size,
checksum, then the OTA header against the entry) and offered as a catalog entry.

The provider calls :meth:`LedgerUpdates.consider` while it answers a QueryImage, so it never waits
on the network: what is not known yet is found out in the background and the answer is
:class:`Waiting` (the provider says Busy, with a delay long enough for it); what the network cannot
tell, the cache in the state directory does (:mod:`.cache`), and the events say how old it is.

Several ledgers are asked in order; the newest applicable version wins, the first ledger on a tie
(as matter.js's ``DclOtaUpdateService.checkForUpdate`` does with MainNet then TestNet).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from ..event_base import EngineEvent
from ..ota.catalog import CatalogEntry, ImageOrigin, OriginKind
from ..ota.extra_images import Answer, Nothing, Ready, Waiting
from ..ota.image import ImageError, verify_image
from . import events as ev
from .cache import CachedAnswer, LedgerCache
from .checksum import ChecksumError, ImageDigest
from .client import DownloadRefused, LedgerClient, LedgerNotFound, LedgerUnreachable
from .events import DownloadState, LedgerDownload
from .ledger import LedgerError, ModelVersion, choose, parse_model_version, parse_software_versions, skip_reason
from .pki import (
    ROOTS_PATH,
    LedgerRoot,
    all_certificates_path,
    certificate_path,
    parse_certificates_by_key_id,
    parse_root_certificates,
    parse_root_list,
)
from .revocation import MAX_CRL_BYTES, parse_points, points_path, revoked_serials
from .sources import LedgerSource

__all__ = [
    "LOOKUP_FRESH",
    "DownloadState",
    "LedgerDownload",
    "LedgerUpdates",
    "Nothing",
    "Ready",
    "Waiting",
]

log = logging.getLogger(__name__)

LOOKUP_FRESH = 3600.0  # seconds a ledger answer is used before it is asked again
RETRY_UNREACHABLE = 60.0  # seconds before a ledger that did not answer is asked again
RETRY_DOWNLOAD = 60.0  # seconds before a download that failed on the network is tried again
BUSY_LOOKUP = 30  # seconds a requestor is asked to wait while the ledger is asked
BUSY_MIN, BUSY_MAX = 30, 3600  # the wait asked for while an image downloads
ROOTS_AT_ONCE = 8  # root certificates asked at once at start
ASSUMED_RATE = 100_000.0  # bytes/s before a download has measured its own


@dataclass
class _Image:
    source: LedgerSource
    model: ModelVersion
    state: DownloadState = DownloadState.RUNNING
    received: int = 0
    started: float = 0.0
    reason: str = ""
    retry_at: float | None = None  # a network failure: tried again from then; None: refused for good
    entry: CatalogEntry | None = None


@dataclass
class _Ledger:
    source: LedgerSource
    client: LedgerClient
    cache: LedgerCache
    answers: dict[str, CachedAnswer] = field(default_factory=dict)
    down_since: float | None = None
    down_reason: str = ""
    refreshing: set[tuple[int, int, int]] = field(default_factory=set)
    retry_at: dict[tuple[int, int], float] = field(default_factory=dict)
    errors: dict[tuple[int, int], str] = field(default_factory=dict)  # a product's answers it could not use


def plural_crls(count: int) -> str:
    return "no revocation list" if count == 0 else f"{count} revocation list{'s' if count != 1 else ''}"


def _authority_key_id(certificate: x509.Certificate) -> bytes | None:
    try:
        return certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        return None


def versions_path(vid: int, pid: int) -> str:
    return f"/dcl/model/versions/{vid}/{pid}"


def version_path(vid: int, pid: int, version: int) -> str:
    return f"/dcl/model/versions/{vid}/{pid}/{version}"


class LedgerUpdates:
    def __init__(
        self,
        sources: Sequence[LedgerSource],
        storage: Path,
        *,
        emit: Callable[[EngineEvent], None] = lambda _event: None,
        clock: Callable[[], float] = time.time,
        client_factory: Callable[[LedgerSource], LedgerClient] = LedgerClient,
        fresh: float = LOOKUP_FRESH,
        local_images: Callable[[], int] = lambda: 0,
    ) -> None:
        self.emit = emit
        self.clock = clock
        self.fresh = fresh
        self.local_images = local_images
        self.directory = storage / "ledger"
        self._ledgers = [
            _Ledger(source, client_factory(source), LedgerCache(self.directory / source.slug)) for source in sources
        ]
        self._images: dict[tuple[str, int, int, int], _Image] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._names: tuple[tuple[int, ...], dict[int, str]] | None = None
        self._load_downloaded()

    # ------------------------------------------------------------------ what the provider asks

    def consider(self, vid: int, pid: int, current: int) -> Answer:
        """What the ledgers offer a device on ``current`` now, never waiting on the network."""
        answers = [self._consider_at(ledger, vid, pid, current) for ledger in self._ledgers]
        ready = [a for a in answers if isinstance(a, Ready)]
        best = max(ready, key=lambda a: a.entry.software_version, default=None)  # the first on a tie
        waiting = [
            a
            for a in answers
            if isinstance(a, Waiting) and (best is None or a.version is None or a.version > best.entry.software_version)
        ]
        if waiting:
            return Waiting(
                max(a.seconds for a in waiting), max((a.version or 0 for a in waiting), default=None) or None
            )
        if best is not None:
            return best
        return Nothing("; ".join(a.reason for a in answers if isinstance(a, Nothing)))

    def entries(self) -> tuple[CatalogEntry, ...]:
        return tuple(image.entry for image in self._images.values() if image.entry is not None)

    def entry_for_designator(self, designator: str) -> CatalogEntry | None:
        for entry in self.entries():
            if entry.designator == designator:
                return entry
        return None

    def downloads(self) -> tuple[LedgerDownload, ...]:
        return tuple(
            LedgerDownload(
                image.source.name,
                image.model.vid,
                image.model.pid,
                image.model.software_version,
                image.state,
                image.received,
                image.model.ota_file_size,
                image.reason,
            )
            for image in self._images.values()
        )

    # ------------------------------------------------------------------ one ledger

    def _consider_at(self, ledger: _Ledger, vid: int, pid: int, current: int) -> Answer:
        now = self.clock()
        listed = self._answer(ledger, versions_path(vid, pid))
        if listed is None or now - listed.fetched > self.fresh:
            self._refresh(ledger, vid, pid, current)
        if listed is None:
            return self._not_known_yet(ledger, vid, pid, current)
        try:
            versions = parse_software_versions(listed.body, vid, pid) if listed.found else []
        except LedgerError as exc:
            return Nothing(f"{ledger.source.name}: {exc}")

        missing: list[int] = []
        choice = choose(versions, lambda version: self._entry(ledger, vid, pid, version, missing), current)
        if missing:
            self._refresh(ledger, vid, pid, current)
            return self._not_known_yet(ledger, vid, pid, current)
        if choice.version is None:
            if not versions or max(versions) <= current:
                return Nothing(f"{ledger.source.name}: up to date (newest published {max(versions, default=0)})")
            passed = "; ".join(f"{version}: {reason}" for version, reason in choice.skipped)
            return Nothing(f"{ledger.source.name}: nothing applies ({passed})")
        return self._image_answer(ledger, choice.version)

    def _entry(self, ledger: _Ledger, vid: int, pid: int, version: int, missing: list[int]) -> ModelVersion:
        """One version's entry from what the ledger answered; a version not asked yet goes in ``missing``."""
        answer = self._answer(ledger, version_path(vid, pid, version))
        if answer is None:
            missing.append(version)
            raise LedgerError("not fetched yet")
        if not answer.found:
            raise LedgerError(f"{ledger.source.name} has no entry for version {version}")
        return parse_model_version(answer.body, vid, pid, version)

    def _not_known_yet(self, ledger: _Ledger, vid: int, pid: int, current: int) -> Answer:
        """Busy while the ledger is being asked; why not, when it is down or refused the question (a
        requestor is not kept waiting on a ledger that is down: the local images answer it)."""
        if ledger.down_since is not None:  # asked again in the background, but not waited on
            return Nothing(f"{ledger.source.name} unreachable ({ledger.down_reason}) and nothing cached")
        if (vid, pid, current) in ledger.refreshing:
            return Waiting(BUSY_LOOKUP)
        if (vid, pid) in ledger.errors:
            return Nothing(f"{ledger.source.name}: {ledger.errors[(vid, pid)]}")
        return Waiting(BUSY_LOOKUP)

    def _image_answer(self, ledger: _Ledger, model: ModelVersion) -> Answer:
        key = (ledger.source.slug, model.vid, model.pid, model.software_version)
        image = self._images.get(key)
        if image is not None and image.model != model:  # the ledger changed its entry: start over
            image = None
        if image is None:
            image = self._images[key] = _Image(ledger.source, model, started=self.clock())
            self._spawn(self._download(ledger, image))
        elif image.state == DownloadState.FAILED:
            if image.retry_at is None or self.clock() < image.retry_at:
                return Nothing(f"{ledger.source.name} version {model.software_version}: {image.reason}")
            image.state, image.received, image.started = DownloadState.RUNNING, 0, self.clock()
            self._spawn(self._download(ledger, image))
        if image.state == DownloadState.READY and image.entry is not None:
            return Ready(image.entry)
        return Waiting(self._download_wait(image), model.software_version)

    def _download_wait(self, image: _Image) -> int:
        elapsed = max(self.clock() - image.started, 0.001)
        rate = image.received / elapsed if image.received else ASSUMED_RATE
        left = (image.model.ota_file_size - image.received) / max(rate, 1.0)
        return int(min(max(left + 10, BUSY_MIN), BUSY_MAX))

    def _answer(self, ledger: _Ledger, path: str) -> CachedAnswer | None:
        answer = ledger.answers.get(path)
        if answer is None:
            answer = ledger.cache.load(path)
            if answer is not None:
                ledger.answers[path] = answer
        return answer

    # ------------------------------------------------------------------ in the background

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(work)
        except RuntimeError:  # no loop (a synchronous caller): nothing can be fetched
            work.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _refresh(self, ledger: _Ledger, vid: int, pid: int, current: int) -> None:
        if (vid, pid, current) in ledger.refreshing or self.clock() < ledger.retry_at.get((vid, pid), 0.0):
            return
        ledger.refreshing.add((vid, pid, current))
        self._spawn(self._look_up(ledger, vid, pid, current))

    async def _get(self, ledger: _Ledger, path: str) -> CachedAnswer:
        """The ledger's answer to ``path`` (kept in the cache), or the cached one if it is fresh."""
        kept = self._answer(ledger, path)
        if kept is not None and self.clock() - kept.fetched <= self.fresh:
            return kept
        try:
            answer = CachedAnswer(self.clock(), True, await ledger.client.get_json(path))
        except LedgerNotFound:
            answer = CachedAnswer(self.clock(), False, None)
        ledger.answers[path] = answer
        try:
            ledger.cache.store(path, answer)
        except OSError as exc:
            log.warning("the ledger's answer to %s cannot be kept in %s: %s", path, ledger.cache.directory, exc)
        return answer

    async def look_up(self, vid: int, pid: int, current: int) -> None:
        """Ask every ledger now what it would offer a device on ``current`` (LedgerLookedUp events),
        downloading nothing (``ota-provider dcl``)."""
        for ledger in self._ledgers:
            ledger.refreshing.add((vid, pid, current))
            await self._look_up(ledger, vid, pid, current, then_download=False)

    async def settle(self, vid: int, pid: int, current: int, poll: float = 0.05) -> Answer:
        """Ask as a requestor would until the answer is no longer Waiting (``ota-provider dcl --download``)."""
        while isinstance(answer := self.consider(vid, pid, current), Waiting):
            await asyncio.sleep(poll)
        return answer

    async def _look_up(self, ledger: _Ledger, vid: int, pid: int, current: int, *, then_download: bool = True) -> None:
        """The versions list, then each newer entry newest first until one applies."""
        from_cache = False
        try:
            listed = await self._get(ledger, versions_path(vid, pid))
            versions = parse_software_versions(listed.body, vid, pid) if listed.found else []

            for version in sorted((v for v in versions if v > current), reverse=True):
                answer = await self._get(ledger, version_path(vid, pid, version))
                if answer.found:
                    with contextlib.suppress(LedgerError):
                        if skip_reason(parse_model_version(answer.body, vid, pid, version), current) is None:
                            break  # the older ones are not needed: this one is chosen
            self._reachable(ledger)
        except LedgerUnreachable as exc:
            from_cache = True
            ledger.retry_at[(vid, pid)] = self.clock() + RETRY_UNREACHABLE
            self._unreachable(ledger, str(exc))
        except LedgerError as exc:
            ledger.retry_at[(vid, pid)] = self.clock() + RETRY_UNREACHABLE
            ledger.errors[(vid, pid)] = str(exc)
            log.warning("ledger %s: %s", ledger.source.name, exc)
        else:
            ledger.errors.pop((vid, pid), None)
        finally:
            ledger.refreshing.discard((vid, pid, current))
        self._report_choice(ledger, vid, pid, current, from_cache)
        if then_download:
            self._consider_at(ledger, vid, pid, current)  # the chosen image downloads now, not on the next query

    def _report_choice(self, ledger: _Ledger, vid: int, pid: int, current: int, from_cache: bool) -> None:
        listed = self._answer(ledger, versions_path(vid, pid))
        if listed is None:
            return
        try:
            versions = parse_software_versions(listed.body, vid, pid) if listed.found else []
        except LedgerError:
            return

        choice = choose(versions, lambda version: self._entry(ledger, vid, pid, version, []), current)
        chosen = choice.version.software_version if choice.version is not None else None
        self.emit(ev.LedgerLookedUp(ledger.source.name, vid, pid, current, chosen, choice.skipped, from_cache))

    async def _download(self, ledger: _Ledger, image: _Image) -> None:
        model = image.model
        path = (
            self.directory
            / ledger.source.slug
            / "images"
            / f"{model.vid:04x}-{model.pid:04x}-{model.software_version}.ota"
        )
        started = time.monotonic()
        downloaded = not path.exists()
        try:
            if downloaded:
                self.emit(
                    ev.LedgerImageDownloading(
                        ledger.source.name,
                        model.vid,
                        model.pid,
                        model.software_version,
                        model.ota_url,
                        model.ota_file_size,
                    )
                )

                def progress(received: int) -> None:
                    image.received = received

                await ledger.client.download(
                    model.ota_url,
                    path,
                    size=model.ota_file_size,
                    checksum=model.ota_checksum,
                    checksum_type=model.ota_checksum_type,
                    progress=progress,
                )
            image.entry = await asyncio.to_thread(
                self._checked_entry, ledger.source, model, path, check_digest=not downloaded
            )
        except LedgerUnreachable as exc:
            self._failed(image, str(exc), retry=True)
            return
        except (DownloadRefused, ImageError, ChecksumError, OSError) as exc:
            path.unlink(missing_ok=True)
            self._failed(image, str(exc), retry=isinstance(exc, OSError) and not isinstance(exc, ImageError))
            return
        image.state, image.received, image.reason = DownloadState.READY, model.ota_file_size, ""
        self.emit(
            ev.LedgerImageReady(
                ledger.source.name,
                model.vid,
                model.pid,
                model.software_version,
                image.entry.designator,
                model.ota_file_size,
                time.monotonic() - started,
                downloaded,
            )
        )

    def _failed(self, image: _Image, reason: str, *, retry: bool) -> None:
        image.state, image.reason = DownloadState.FAILED, reason
        image.retry_at = self.clock() + RETRY_DOWNLOAD if retry else None
        model = image.model
        log.warning("ledger image %s/%s v%s: %s", model.vid, model.pid, model.software_version, reason)
        self.emit(ev.LedgerImageRefused(image.source.name, model.vid, model.pid, model.software_version, reason, retry))

    @staticmethod
    def _checked_entry(source: LedgerSource, model: ModelVersion, path: Path, *, check_digest: bool) -> CatalogEntry:
        """The OTA header against the ledger's entry (and, for a file from an earlier run, its size
        and checksum again): VID, PID and version must match, as matter.js checks."""
        if check_digest:
            size = path.stat().st_size
            if size != model.ota_file_size:
                raise DownloadRefused(f"the image has {size} bytes; the ledger published {model.ota_file_size}")
            with path.open("rb") as file:
                chunks = iter(lambda: file.read(1 << 20), b"")
                ImageDigest.check_chunks(model.ota_checksum_type, chunks, model.ota_checksum)
        info = verify_image(path).info
        header = info.header
        published = (model.vid, model.pid, model.software_version)
        found = (header.vendor_id, header.product_id, header.software_version)
        if found != published:
            raise DownloadRefused(
                f"the image's header says VID 0x{found[0]:04X} PID 0x{found[1]:04X} version {found[2]}; the ledger "
                f"published VID 0x{published[0]:04X} PID 0x{published[1]:04X} version {published[2]}"
            )
        return CatalogEntry(
            index=0,
            path=path,
            vendor_id=model.vid,
            product_id=model.pid,
            software_version=model.software_version,
            software_version_string=model.software_version_string or header.software_version_string,
            software_version_valid=model.valid,
            min_applicable_version=model.min_applicable,
            max_applicable_version=model.max_applicable,
            min_hardware_version=None,
            max_hardware_version=None,
            info=info,
            origin=ImageOrigin(OriginKind.LEDGER, source.name),
            name=f"{source.tag}-{model.vid:04x}-{model.pid:04x}-{model.software_version}",
        )

    def _load_downloaded(self) -> None:
        """Images kept from an earlier run, each checked again, so offers made then stay good and
        the bench serves them offline."""
        for ledger in self._ledgers:
            folder = self.directory / ledger.source.slug / "images"
            for path in sorted(folder.glob("*.ota")) if folder.is_dir() else ():
                try:
                    vid_hex, pid_hex, version_text = path.stem.split("-")
                    vid, pid, version = int(vid_hex, 16), int(pid_hex, 16), int(version_text)
                    answer = self._answer(ledger, version_path(vid, pid, version))
                    if answer is None or not answer.found:
                        continue
                    model = parse_model_version(answer.body, vid, pid, version)
                    entry = self._checked_entry(ledger.source, model, path, check_digest=True)
                except (ValueError, OSError, ImageError, DownloadRefused, ChecksumError) as exc:
                    log.warning("ledger image %s not served: %s", path, exc)
                    continue
                key = (ledger.source.slug, vid, pid, version)
                self._images[key] = _Image(ledger.source, model, DownloadState.READY, model.ota_file_size, entry=entry)

    # ------------------------------------------------------------------ reachability

    def _unreachable(self, ledger: _Ledger, reason: str) -> None:
        first = ledger.down_since is None
        if first:
            ledger.down_since = self.clock()
        ledger.down_reason = reason
        if first:
            self.emit(
                ev.LedgerUnreachable(
                    ledger.source.name,
                    ledger.source.host,
                    reason,
                    ledger.cache.count(),
                    None if (oldest := ledger.cache.oldest()) is None else max(0.0, self.clock() - oldest),
                    self.local_images(),
                )
            )

    def _reachable(self, ledger: _Ledger, vendors: int = 0) -> None:
        if ledger.down_since is not None:
            ledger.down_since = None
            self.emit(ev.LedgerReachable(ledger.source.name, ledger.source.host, vendors))

    async def check(self) -> None:
        """At start: ask each ledger once (its vendor list, kept for names), so an unreachable
        ledger is said at once, with what is still served."""
        for ledger in self._ledgers:
            try:
                vendors = await ledger.client.get_list("/dcl/vendorinfo/vendors", "vendorInfo")
            except (LedgerUnreachable, LedgerError) as exc:
                self._unreachable(ledger, str(exc))
                continue
            answer = CachedAnswer(self.clock(), True, {"vendorInfo": vendors})
            ledger.answers["/dcl/vendorinfo/vendors"] = answer
            with contextlib.suppress(OSError):
                ledger.cache.store("/dcl/vendorinfo/vendors", answer)
            ledger.down_since = None
            self.emit(ev.LedgerReachable(ledger.source.name, ledger.source.host, len(vendors)))

    async def _get_or_cached(self, ledger: _Ledger, path: str) -> tuple[CachedAnswer, bool]:
        """The ledger's answer, or the one kept from before when it cannot be reached (True)."""
        try:
            return await self._get(ledger, path), False
        except LedgerUnreachable as exc:
            kept = self._answer(ledger, path)
            if kept is None:
                raise
            self._unreachable(ledger, str(exc))
            return kept, True

    async def load_roots(self) -> list[LedgerRoot]:
        """Every ledger's approved PAA roots (from its cache when it cannot be reached), asked
        ROOTS_AT_ONCE at a time: MainNet lists well over a hundred. A root whose entry cannot be
        used is left out (and logged), not the others."""
        roots: list[LedgerRoot] = []
        for ledger in self._ledgers:
            try:
                listed, from_cache = await self._get_or_cached(ledger, ROOTS_PATH)
                listing = parse_root_list(listed.body) if listed.found else []
            except (LedgerUnreachable, LedgerError) as exc:
                log.warning("ledger %s: PAA roots not loaded: %s", ledger.source.name, exc)
                if isinstance(exc, LedgerUnreachable):
                    self._unreachable(ledger, str(exc))
                continue
            limit = asyncio.Semaphore(ROOTS_AT_ONCE)
            found = await asyncio.gather(*(self._root(ledger, subject, key_id, limit) for subject, key_id in listing))
            mine = [root for certificates, _stale in found for root in certificates]
            roots += mine
            stale = from_cache or any(stale for _certificates, stale in found)
            self.emit(ev.LedgerRootsLoaded(ledger.source.name, len(mine), stale))
        return roots

    async def _root(
        self, ledger: _Ledger, subject: str, key_id: str, limit: asyncio.Semaphore
    ) -> tuple[list[LedgerRoot], bool]:
        try:
            async with limit:
                answer, stale = await self._get_or_cached(ledger, certificate_path(subject, key_id))
            certificates = parse_root_certificates(answer.body, subject, key_id) if answer.found else []
        except (LedgerUnreachable, LedgerError) as exc:
            log.warning("ledger %s: PAA root %s left out: %s", ledger.source.name, key_id, exc)
            return [], False
        return [LedgerRoot(ledger.source.name, certificate) for certificate in certificates], stale

    async def check_revocation(self, dac_der: bytes, pai_der: bytes) -> tuple[str | None, str]:
        """Whether the ledger's CRLs revoke the PAI (its PAA's points) or the DAC (its PAI's points):
        (why it is revoked, or None; what was checked, in a few words). A ledger or CRL that cannot
        be reached leaves the check undone and says so; it never stops a commissioning by itself."""
        dac, pai = x509.load_der_x509_certificate(dac_der), x509.load_der_x509_certificate(pai_der)
        checked, missed = 0, []
        for ledger in self._ledgers:
            for certificate, is_paa, what in ((pai, True, "PAI"), (dac, False, "DAC")):
                issuer = _authority_key_id(certificate)
                if issuer is None:
                    continue
                try:
                    answer, _ = await self._get_or_cached(ledger, points_path(issuer))
                    points = parse_points(answer.body, issuer) if answer.found else []
                    for point in (p for p in points if p.is_paa == is_paa):
                        crl = await ledger.client.get_bytes(point.data_url, MAX_CRL_BYTES)
                        checked += 1
                        if certificate.serial_number in revoked_serials(point, crl):
                            serial = f"{certificate.serial_number:X}"
                            return f"the {what} (serial {serial}) is revoked on DCL {ledger.source.name}", ""
                except (LedgerUnreachable, LedgerError) as exc:
                    missed.append(f"{ledger.source.name}: {exc}")
        if missed:
            return None, "revocation not checked (" + "; ".join(missed) + ")"
        return None, f"not revoked ({plural_crls(checked)} on the ledger)"

    async def cd_signers(self, key_id: bytes) -> list[x509.Certificate]:
        """Certification Declaration signers with this key id, from the first ledger that has one
        (``/dcl/pki/all-certificates?subjectKeyId=``, as matter.js's DclCertificateService looks a
        production CD's signer up); none when no ledger answers."""
        path = all_certificates_path(key_id)
        for ledger in self._ledgers:
            try:
                answer, _ = await self._get_or_cached(ledger, path)
                found = parse_certificates_by_key_id(answer.body, key_id) if answer.found else []
            except (LedgerUnreachable, LedgerError) as exc:
                log.warning("ledger %s: CD signer %s not looked up: %s", ledger.source.name, key_id.hex(), exc)
                continue
            if found:
                return found
        return []

    def vendor_names(self) -> dict[int, str]:
        """Vendor ids to names, from every ledger's (cached) vendor list, the first ledger first."""
        answers = [self._answer(ledger, "/dcl/vendorinfo/vendors") for ledger in self._ledgers]
        key = tuple(map(id, answers))
        if self._names is not None and self._names[0] == key:  # asked ten times a second: kept until a new list
            return self._names[1]
        names: dict[int, str] = {}
        for answer in reversed(answers):
            items = answer.body.get("vendorInfo") if answer is not None and isinstance(answer.body, dict) else None
            for item in items if isinstance(items, list) else ():
                if (
                    isinstance(item, dict)
                    and isinstance(item.get("vendorID"), int)
                    and isinstance(item.get("vendorName"), str)
                ):
                    names[item["vendorID"]] = item["vendorName"][:64]
        self._names = (key, names)
        return names

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for ledger in self._ledgers:
            await ledger.client.aclose()
