"""The image catalog: which OTA images the provider can offer, and which one a query gets.

Two sources, as in the SDK's ota-provider-app:

* ``-f FILE``: one image; its header is the entry.
* ``-o LIST.json``: the SDK's ``deviceSoftwareVersionModel`` list (OTA_PROVIDER_SPEC.md §1.3),
  with ``//`` and ``/* */`` comments, unknown keys ignored and the SDK's defaults for
  missing keys. Two optional keys of our own, ``minHardwareVersion`` and
  ``maxHardwareVersion``, restrict an entry to a hardware-version range.

Every entry is checked against its image header and payload digest at load time; any
mismatch is a :class:`CatalogError` naming the entry and the field. Catalogs are
immutable: :meth:`ImageCatalog.reload_if_changed` returns a new one when a file changed,
so a running provider swaps catalogs atomically and keeps the old one if the new is bad.

Selection differs from the SDK on purpose: the VendorID and ProductID must match and,
in ``-f`` mode too, the image must be newer than the requestor's version and inside its
applicable range.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .image import ImageError, ImageInfo, read_image_info, verify_image

__all__ = [
    "CatalogEntry",
    "CatalogError",
    "ImageCatalog",
    "ImageOrigin",
    "OriginKind",
    "Selection",
    "strip_json_comments",
]


class CatalogError(ValueError):
    """The image file or image list is unusable; the message names the entry and field."""


# The SDK's defaults for keys missing from a deviceSoftwareVersionModel entry.
_SDK_DEFAULTS: dict[str, Any] = {
    "vendorId": 1,
    "productId": 1,
    "softwareVersion": 10,
    "softwareVersionString": "1.0.0",
    "cDVersionNumber": 0,
    "softwareVersionValid": True,
    "minApplicableSoftwareVersion": 0,
    "maxApplicableSoftwareVersion": 1000,
    "otaURL": "https://test.com",
}

_UINT_BITS = {
    "vendorId": 16,
    "productId": 16,
    "softwareVersion": 32,
    "cDVersionNumber": 16,
    "minApplicableSoftwareVersion": 32,
    "maxApplicableSoftwareVersion": 32,
    "minHardwareVersion": 16,
    "maxHardwareVersion": 16,
}


class OriginKind(enum.StrEnum):
    FILE = "file"  # -f
    LIST = "list"  # -o
    LEDGER = "ledger"  # downloaded from a ledger (core/dcl)


@dataclass(frozen=True)
class ImageOrigin:
    """Where an image came from: ``ledger`` names which (MainNet, TestNet, or its host)."""

    kind: OriginKind
    ledger: str = ""

    @property
    def name(self) -> str:
        return self.ledger if self.kind == OriginKind.LEDGER else self.kind.value


FILE_ORIGIN = ImageOrigin(OriginKind.FILE)
LIST_ORIGIN = ImageOrigin(OriginKind.LIST)


@dataclass(frozen=True)
class CatalogEntry:
    index: int
    path: Path
    vendor_id: int
    product_id: int
    software_version: int
    software_version_string: str
    software_version_valid: bool
    min_applicable_version: int | None
    max_applicable_version: int | None
    min_hardware_version: int | None
    max_hardware_version: int | None
    info: ImageInfo = field(repr=False, compare=False)
    origin: ImageOrigin = FILE_ORIGIN
    name: str = ""  # the designator of an image not in a file or list (a ledger's)

    @property
    def designator(self) -> str:
        """The opaque BDX file designator: ``"0"``, ``"1"``, ... in list order (as the current SDK),
        or the name a ledger image was given."""
        return self.name or str(self.index)

    @property
    def size(self) -> int:
        return self.info.total_size

    def rejection(self, vendor_id: int, product_id: int, version: int, hardware_version: int | None) -> str | None:
        """Why this entry is not offered to such a requestor, or None if it qualifies."""
        if (vendor_id, product_id) != (self.vendor_id, self.product_id):
            return "different VID/PID"
        if not self.software_version_valid:
            return "marked softwareVersionValid=false"
        if version >= self.software_version:
            return f"not newer than {version}"
        if self.min_applicable_version is not None and version < self.min_applicable_version:
            return f"needs version >= {self.min_applicable_version}"
        if self.max_applicable_version is not None and version > self.max_applicable_version:
            return f"needs version <= {self.max_applicable_version}"
        if self.min_hardware_version is not None or self.max_hardware_version is not None:
            if hardware_version is None:
                return "needs a HardwareVersion the requestor did not send"
            if self.min_hardware_version is not None and hardware_version < self.min_hardware_version:
                return f"needs hardware version >= {self.min_hardware_version}"
            if self.max_hardware_version is not None and hardware_version > self.max_hardware_version:
                return f"needs hardware version <= {self.max_hardware_version}"
        return None

    def describe(self) -> str:
        origin = f" from {self.origin.name}" if self.origin.kind == OriginKind.LEDGER else ""
        return (
            f"#{self.designator} {self.path.name}: VID 0x{self.vendor_id:04X} PID 0x{self.product_id:04X} "
            f"v{self.software_version} ({self.software_version_string}){origin}"
        )


@dataclass(frozen=True)
class Selection:
    """The outcome of a query: the chosen entry, or why nothing was chosen."""

    entry: CatalogEntry | None
    reason: str
    pending: int | None = None  # an image on its way (the ledger's): ask again in this many seconds

    @property
    def available(self) -> bool:
        return self.entry is not None


_FileStamp = tuple[int, int, int]  # (inode, size, mtime_ns)


def _stamp(path: Path) -> _FileStamp | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class ImageCatalog:
    entries: tuple[CatalogEntry, ...]
    source: Path
    is_list: bool
    stamps: tuple[tuple[Path, _FileStamp | None], ...] = field(repr=False, compare=False, default=())

    # ----------------------------------------------------------------------- loading

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, verify: bool = True) -> ImageCatalog:
        """``-f``: one image; every field comes from its header."""
        path = Path(path)
        info = _load_image(path, verify, where=str(path))
        header = info.header
        entry = CatalogEntry(
            index=0,
            path=path,
            vendor_id=header.vendor_id,
            product_id=header.product_id,
            software_version=header.software_version,
            software_version_string=header.software_version_string,
            software_version_valid=True,
            min_applicable_version=header.min_applicable_version,
            max_applicable_version=header.max_applicable_version,
            min_hardware_version=None,
            max_hardware_version=None,
            info=info,
        )
        return cls((entry,), path, is_list=False, stamps=((path, _stamp(path)),))

    @classmethod
    def from_list(cls, path: str | os.PathLike[str], *, verify: bool = True) -> ImageCatalog:
        """``-o``: a deviceSoftwareVersionModel JSON list."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CatalogError(f"cannot read image list {path}: {getattr(exc, 'strerror', None) or exc}") from None
        return cls.from_list_text(text, path, verify=verify)

    @classmethod
    def from_list_text(cls, text: str, path: Path, *, verify: bool = True) -> ImageCatalog:
        """Parse image-list JSON that was read from ``path`` (relative otaURLs resolve against it)."""
        try:
            document = json.loads(strip_json_comments(text))
        except json.JSONDecodeError as exc:
            raise CatalogError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
        except CatalogError as exc:
            raise CatalogError(f"{path}: {exc}") from None
        if not isinstance(document, dict) or not isinstance(document.get("deviceSoftwareVersionModel"), list):
            raise CatalogError(f'{path}: the top level must be an object with a "deviceSoftwareVersionModel" array')
        entries = []
        for index, raw in enumerate(document["deviceSoftwareVersionModel"]):
            entries.append(_entry_from_json(index, raw, path, verify))
        _reject_duplicates(entries, path)
        files = [path] + [e.path for e in entries]
        return cls(tuple(entries), path, is_list=True, stamps=tuple((f, _stamp(f)) for f in files))

    @classmethod
    def empty(cls) -> ImageCatalog:
        """No local images (a provider serving a ledger's only)."""
        return cls((), Path("-"), is_list=True)

    @classmethod
    def load(cls, *, filepath: str | None = None, image_list: str | None = None, verify: bool = True) -> ImageCatalog:
        if (filepath is None) == (image_list is None):
            raise CatalogError("give exactly one of an OTA image file (-f) or an image list (-o)")
        if filepath is not None:
            return cls.from_file(filepath, verify=verify)
        return cls.from_list(image_list, verify=verify)  # type: ignore[arg-type]

    def reload(self) -> ImageCatalog:
        return type(self).from_list(self.source) if self.is_list else type(self).from_file(self.source)

    def changed_files(self) -> list[Path]:
        return [path for path, stamp in self.stamps if _stamp(path) != stamp]

    def reload_if_changed(self) -> ImageCatalog:
        """``self`` if no file changed on disk, else a freshly loaded catalog (which may raise)."""
        return self.reload() if self.changed_files() else self

    # ----------------------------------------------------------------------- queries

    def select(
        self, vendor_id: int, product_id: int, current_version: int, hardware_version: int | None = None
    ) -> Selection:
        """The highest qualifying version (OTA_PROVIDER_SPEC.md §1.3 plus the VID/PID check)."""
        qualifying = []
        reasons = []
        for entry in self.entries:
            why_not = entry.rejection(vendor_id, product_id, current_version, hardware_version)
            if why_not is None:
                qualifying.append(entry)
            else:
                reasons.append(f"{entry.describe()}: {why_not}")
        if qualifying:
            best = max(qualifying, key=lambda e: e.software_version)
            return Selection(best, f"offering {best.describe()}")
        same_product = [e for e in self.entries if (e.vendor_id, e.product_id) == (vendor_id, product_id)]
        if not same_product:
            return Selection(None, f"no image for VID 0x{vendor_id:04X} PID 0x{product_id:04X}")
        newest = max(e.software_version for e in same_product)
        if current_version >= newest:
            return Selection(None, f"up to date: version {current_version}, newest image is version {newest}")
        return Selection(None, "no applicable image: " + "; ".join(reasons))

    def entry_for_designator(self, designator: str) -> CatalogEntry | None:
        for entry in self.entries:
            if entry.designator == designator:
                return entry
        return None


def _load_image(path: Path, verify: bool, where: str) -> ImageInfo:
    try:
        return verify_image(path).info if verify else read_image_info(path)
    except ImageError as exc:
        raise CatalogError(f"{where}: {exc}") from None


def _resolve(url: str, list_path: Path) -> Path:
    """A relative otaURL is tried against the working directory (as the SDK does), then the list's folder."""
    candidate = Path(url)
    if candidate.is_absolute() or candidate.exists():
        return candidate
    beside_list = list_path.parent / candidate
    return beside_list if beside_list.exists() else candidate


def _entry_from_json(index: int, raw: Any, list_path: Path, verify: bool) -> CatalogEntry:
    where = f"{list_path}: entry {index}"
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: must be an object, not {type(raw).__name__}")
    known = {key.lower(): key for key in (*_SDK_DEFAULTS, *_UINT_BITS)}
    for key in raw:  # unknown keys are ignored, as the SDK does; a misspelt known one is not
        if key not in _SDK_DEFAULTS and key not in _UINT_BITS and str(key).lower() in known:
            raise CatalogError(
                f"{where}: unknown key {key!r}: did you mean {known[str(key).lower()]!r}? (keys are case-sensitive)"
            )
    values = {**_SDK_DEFAULTS, **raw}

    def uint(key: str) -> int | None:
        value = values.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < (1 << _UINT_BITS[key]):
            raise CatalogError(f"{where}: {key} must be an integer 0..{(1 << _UINT_BITS[key]) - 1}, not {value!r}")
        return value

    def text(key: str, max_len: int) -> str:
        value = values[key]
        if not isinstance(value, str) or not 1 <= len(value.encode("utf-8")) <= max_len:
            raise CatalogError(f"{where}: {key} must be a string of 1..{max_len} bytes, not {value!r}")
        return value

    valid = values["softwareVersionValid"]
    if not isinstance(valid, bool):
        raise CatalogError(f"{where}: softwareVersionValid must be true or false, not {valid!r}")
    url = text("otaURL", 511)
    if url.startswith(("https://", "http://", "bdx://")):
        raise CatalogError(f"{where}: otaURL must be the path of a local .ota file, not the URL {url!r}")
    path = _resolve(url, list_path)
    entry = CatalogEntry(
        index=index,
        path=path,
        vendor_id=uint("vendorId"),  # type: ignore[arg-type]
        product_id=uint("productId"),  # type: ignore[arg-type]
        software_version=uint("softwareVersion"),  # type: ignore[arg-type]
        software_version_string=text("softwareVersionString", 64),
        software_version_valid=valid,
        min_applicable_version=uint("minApplicableSoftwareVersion"),
        max_applicable_version=uint("maxApplicableSoftwareVersion"),
        min_hardware_version=uint("minHardwareVersion"),
        max_hardware_version=uint("maxHardwareVersion"),
        info=None,  # type: ignore[arg-type]
        origin=LIST_ORIGIN,
    )
    uint("cDVersionNumber")
    info = _load_image(path, verify, where=f"{where} ({url})")
    _check_against_header(entry, info, where)
    return dataclasses.replace(entry, info=info)


def _check_against_header(entry: CatalogEntry, info: ImageInfo, where: str) -> None:
    header = info.header
    checks = [
        ("vendorId", entry.vendor_id, header.vendor_id, True),
        ("productId", entry.product_id, header.product_id, True),
        ("softwareVersion", entry.software_version, header.software_version, True),
        ("softwareVersionString", entry.software_version_string, header.software_version_string, True),
        (
            "minApplicableSoftwareVersion",
            entry.min_applicable_version,
            header.min_applicable_version,
            header.min_applicable_version is not None,
        ),
        (
            "maxApplicableSoftwareVersion",
            entry.max_applicable_version,
            header.max_applicable_version,
            header.max_applicable_version is not None,
        ),
    ]
    for key, listed, in_header, applies in checks:
        if applies and listed != in_header:
            raise CatalogError(
                f"{where}: {key} is {_show(listed)} but the image header of {entry.path} says {_show(in_header)}"
            )


def _show(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else f"{value}"


def _reject_duplicates(entries: Iterable[CatalogEntry], list_path: Path) -> None:
    seen: dict[tuple[int, int, int], CatalogEntry] = {}
    for entry in entries:
        key = (entry.vendor_id, entry.product_id, entry.software_version)
        if key in seen:
            raise CatalogError(
                f"{list_path}: entries {seen[key].index} and {entry.index} both offer VID 0x{key[0]:04X} "
                f"PID 0x{key[1]:04X} version {key[2]}; keep one"
            )
        seen[key] = entry


def strip_json_comments(text: str) -> str:
    """Remove ``//`` and ``/* */`` comments outside strings, keeping line numbers intact."""
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        ch = text[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                in_string = False
            i += 1
        elif ch == '"':
            in_string = True
            out.append(ch)
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end == -1 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end == -1:
                raise CatalogError("unterminated /* comment in image list")
            out.append("\n" * text.count("\n", i, end))
            i = end + 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)
