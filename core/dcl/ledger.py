"""What the ledger says about a product's software versions, and which one a device should get.

Sans-IO: the answers of ``/dcl/model/versions/{vid}/{pid}`` and ``.../{softwareVersion}`` come in as
decoded JSON, the choice goes out as a value; fetching is the caller's. The rules are the ledger's
as its clients apply them (matter.js ``@matter/protocol`` ``dcl/DclOtaUpdateService``,
python-matter-server): versions newer than the device's, newest first; a version is skipped when it
is not valid, has no image (empty ``otaUrl``), an image not on ``https://``, or an applicable range
``[minApplicableSoftwareVersion, maxApplicableSoftwareVersion]`` that leaves the device's version
out. A newer version that is skipped never hides an older one that is not.

On input we are no stricter than the peers: ``otaFileSize`` may be a string (as the ledger sends
a uint64) or a number; a missing ``schemaVersion`` is taken as 0 (recorded real answers lack it);
matter.js refuses any other schema, and so do we, with the reason.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = [
    "Choice",
    "LedgerError",
    "ModelVersion",
    "choose",
    "parse_model_version",
    "parse_software_versions",
    "skip_reason",
]

UINT32 = 0xFFFF_FFFF


class LedgerError(ValueError):
    """An answer from the ledger that cannot be used, in one line."""


@dataclass(frozen=True)
class ModelVersion:
    """One published software version of one product (``modelVersion``)."""

    vid: int
    pid: int
    software_version: int
    software_version_string: str
    valid: bool
    ota_url: str
    ota_file_size: int
    ota_checksum: bytes  # the digest itself (the ledger sends it in base64)
    ota_checksum_type: int  # IANA Named Information hash algorithm id
    min_applicable: int
    max_applicable: int
    release_notes_url: str = ""

    @property
    def has_image(self) -> bool:
        return bool(self.ota_url.strip())


@dataclass(frozen=True)
class Choice:
    """The version to offer (None: nothing applies), and why each newer one was passed over."""

    version: ModelVersion | None
    skipped: tuple[tuple[int, str], ...] = ()


def _object(answer: object, key: str) -> dict:
    body = answer.get(key) if isinstance(answer, dict) else None
    if not isinstance(body, dict):
        raise LedgerError(f"the ledger's answer has no {key!r} object")
    schema = body.get("schemaVersion", 0)
    if schema != 0:
        raise LedgerError(f"the ledger answered with schema version {schema!r}; only 0 is known")
    return body


def _integer(body: dict, key: str, *, default: int | None = None, high: int = UINT32) -> int:
    value = body.get(key, default)
    if isinstance(value, str) and value.strip().isdigit():  # uint64 values come as strings
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise LedgerError(f"the ledger's {key} is {value!r}, not a number from 0 to {high}")
    return value


def _text(body: dict, key: str) -> str:
    value = body.get(key, "")
    if not isinstance(value, str):
        raise LedgerError(f"the ledger's {key} is {value!r}, not text")
    return value


def _expect(body: dict, vid: int, pid: int) -> None:
    got = (_integer(body, "vid", high=0xFFFF), _integer(body, "pid", high=0xFFFF))
    if got != (vid, pid):
        raise LedgerError(f"asked for {vid:#06x}/{pid:#06x}, the ledger answered for {got[0]:#06x}/{got[1]:#06x}")


def parse_software_versions(answer: object, vid: int, pid: int) -> list[int]:
    """The versions published for a product (``modelVersions.softwareVersions``)."""
    body = _object(answer, "modelVersions")
    _expect(body, vid, pid)
    versions = body.get("softwareVersions", [])
    if not isinstance(versions, list):
        raise LedgerError(f"the ledger's softwareVersions is {versions!r}, not a list")
    return sorted({_integer({"softwareVersions": v}, "softwareVersions") for v in versions})


def parse_model_version(answer: object, vid: int, pid: int, software_version: int) -> ModelVersion:
    """One version's entry (``modelVersion``), checked against what was asked."""
    body = _object(answer, "modelVersion")
    _expect(body, vid, pid)
    version = _integer(body, "softwareVersion")
    if version != software_version:
        raise LedgerError(f"asked for version {software_version}, the ledger answered for {version}")
    checksum_text = _text(body, "otaChecksum")
    try:
        checksum = base64.b64decode(checksum_text, validate=True)
    except (binascii.Error, ValueError):
        raise LedgerError(f"the ledger's otaChecksum {checksum_text[:60]!r} is not base64") from None
    valid = body.get("softwareVersionValid", True)
    if not isinstance(valid, bool):
        raise LedgerError(f"the ledger's softwareVersionValid is {valid!r}, not true or false")
    return ModelVersion(
        vid=vid,
        pid=pid,
        software_version=version,
        software_version_string=_text(body, "softwareVersionString"),
        valid=valid,
        ota_url=_text(body, "otaUrl"),
        ota_file_size=_integer(body, "otaFileSize", default=0, high=(1 << 64) - 1),
        ota_checksum=checksum,
        ota_checksum_type=_integer(body, "otaChecksumType", default=0, high=0xFFFF),
        min_applicable=_integer(body, "minApplicableSoftwareVersion", default=0),
        max_applicable=_integer(body, "maxApplicableSoftwareVersion", default=UINT32),
        release_notes_url=_text(body, "releaseNotesUrl"),
    )


def skip_reason(entry: ModelVersion, current: int) -> str | None:
    """Why ``entry`` is not for a device running ``current``, in words; None: it is."""
    if not entry.valid:
        return "marked not valid on the ledger"
    if not entry.has_image:
        return "published without an image"
    if not entry.ota_url.strip().lower().startswith("https://"):
        return f"its image is not on https:// ({entry.ota_url[:60]})"
    if not entry.min_applicable <= current <= entry.max_applicable:
        return f"applies to versions {entry.min_applicable}-{entry.max_applicable}, not to {current}"
    return None


def choose(versions: Iterable[int], fetch: Callable[[int], ModelVersion], current: int) -> Choice:
    """The newest version above ``current`` that applies, looking at older ones past each that does
    not. ``fetch`` gets one version's entry; a :class:`LedgerError` from it skips that version."""
    skipped: list[tuple[int, str]] = []
    for version in sorted((v for v in set(versions) if v > current), reverse=True):
        try:
            entry = fetch(version)
        except LedgerError as exc:
            skipped.append((version, str(exc)))
            continue
        reason = skip_reason(entry, current)
        if reason is None:
            return Choice(entry, tuple(skipped))
        skipped.append((version, reason))
    return Choice(None, tuple(skipped))
