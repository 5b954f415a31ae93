"""The Matter OTA image file format (Core spec 11.21; OTA_PROVIDER_SPEC.md §3).

Layout, little-endian::

    FileIdentifier u32 = 0x1BEEF11E | TotalSize u64 | HeaderSize u32
    Header: TLV anonymous structure, HeaderSize bytes
    Payload: PayloadSize bytes

Everything here streams: headers are parsed incrementally from whatever bytes
arrive (a file, or BDX blocks), and payloads are hashed and copied in chunks,
never held whole in memory. Every problem is an :class:`ImageError` whose
message says what is wrong in one line.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import os
import struct
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..codec import tlv
from ..codec.schema import (
    EnumType,
    OctetString,
    SchemaError,
    TLVStruct,
    UInt16,
    UInt32,
    UInt64,
    Utf8String,
    tlv_field,
)

__all__ = [
    "CREATE_DIGEST_ALGORITHMS",
    "FILE_IDENTIFIER",
    "MAX_HEADER_SIZE",
    "DigestType",
    "HeaderAccumulator",
    "HeaderFields",
    "ImageError",
    "ImageHeader",
    "ImageInfo",
    "VerifyResult",
    "build_header",
    "compute_digest",
    "create_image",
    "extract_payload",
    "read_image_info",
    "rewrite_header",
    "verify_image",
]

FILE_IDENTIFIER = 0x1BEEF11E
_FIXED = struct.Struct("<IQI")
FIXED_HEADER_SIZE = _FIXED.size  # 16

MAX_HEADER_SIZE = 1024
"""The SDK's requestor-side parser rejects larger headers (NO_MEMORY), so we do too."""

CHUNK_SIZE = 64 * 1024


class ImageError(ValueError):
    """The image is malformed, inconsistent, or cannot be read or written."""


class DigestType(enum.IntEnum):
    """IANA "Named Information Hash Algorithm" ids used by ImageDigestType."""

    SHA256 = 1
    SHA256_128 = 2
    SHA256_120 = 3
    SHA256_96 = 4
    SHA256_64 = 5
    SHA256_32 = 6
    SHA384 = 7
    SHA512 = 8
    SHA3_224 = 9
    SHA3_256 = 10
    SHA3_384 = 11
    SHA3_512 = 12

    @property
    def algorithm_name(self) -> str:
        """The name used by the SDK tool's ``--digest-algorithm`` (e.g. ``sha3_256``)."""
        return self.name.lower()

    @property
    def digest_size(self) -> int:
        return _DIGEST_SIZES[self]

    def new_hash(self) -> _Hasher:
        return _Hasher(self)

    @classmethod
    def from_name(cls, name: str) -> DigestType:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ImageError(f"unknown digest algorithm {name!r}") from None


_DIGEST_SIZES = {
    DigestType.SHA256: 32,
    DigestType.SHA256_128: 16,
    DigestType.SHA256_120: 15,
    DigestType.SHA256_96: 12,
    DigestType.SHA256_64: 8,
    DigestType.SHA256_32: 4,
    DigestType.SHA384: 48,
    DigestType.SHA512: 64,
    DigestType.SHA3_224: 28,
    DigestType.SHA3_256: 32,
    DigestType.SHA3_384: 48,
    DigestType.SHA3_512: 64,
}

# What `create` offers: as the SDK tool, the algorithms hashlib has by name. The
# truncated sha256_* types are still verified (RFC 6920: the leftmost bits of SHA-256).
CREATE_DIGEST_ALGORITHMS = tuple(
    d.algorithm_name for d in DigestType if d.algorithm_name in hashlib.algorithms_available
)


class _Hasher:
    __slots__ = ("_hash", "_size")

    def __init__(self, digest_type: DigestType) -> None:
        name = digest_type.algorithm_name
        base = "sha256" if name.startswith("sha256_") else name
        self._hash = hashlib.new(base)
        self._size = digest_type.digest_size

    def update(self, data: bytes | memoryview) -> None:
        self._hash.update(data)

    def digest(self) -> bytes:
        return self._hash.digest()[: self._size]


@dataclass(frozen=True, kw_only=True)
class ImageHeader(TLVStruct):
    """The header TLV, tags as in OTA_PROVIDER_SPEC.md §3.2."""

    vendor_id: int = tlv_field(0, UInt16)
    product_id: int = tlv_field(1, UInt16)
    software_version: int = tlv_field(2, UInt32)
    software_version_string: str = tlv_field(3, Utf8String(1, 64))
    payload_size: int = tlv_field(4, UInt64)
    min_applicable_version: int | None = tlv_field(5, UInt32, optional=True)
    max_applicable_version: int | None = tlv_field(6, UInt32, optional=True)
    release_notes_url: str | None = tlv_field(7, Utf8String(1, 256), optional=True)
    image_digest_type: DigestType = tlv_field(8, EnumType(DigestType))
    image_digest: bytes = tlv_field(9, OctetString())


# Mandatory tags in order, with the optional ones allowed between 4 and 8.
_TAG_ORDER = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
_OPTIONAL_TAGS = frozenset({5, 6, 7})
_TAG_TITLES = {
    0: "Vendor Id",
    1: "Product Id",
    2: "Version",
    3: "Version String",
    4: "Payload Size",
    5: "Min Version",
    6: "Max Version",
    7: "Release Notes Url",
    8: "Digest Type",
    9: "Digest",
}


@dataclass(frozen=True)
class ImageInfo:
    """A parsed image header plus the framing around it."""

    header: ImageHeader
    total_size: int
    header_size: int
    header_fields: tuple[tuple[int, object], ...] = field(repr=False, default=())

    @property
    def payload_offset(self) -> int:
        return FIXED_HEADER_SIZE + self.header_size

    def show_lines(self) -> list[str]:
        """The lines the SDK's ``ota_image_tool.py show`` prints."""
        lines = [
            f"Magic: {FILE_IDENTIFIER:x}",
            f"Total Size: {self.total_size}",
            f"Header Size: {self.header_size}",
            "Header TLV:",
        ]
        for tag, value in self.header_fields:
            if isinstance(value, bytes):
                shown = value.hex()
            elif isinstance(value, int) and not isinstance(value, bool):
                shown = f"{int(value)} (0x{int(value):x})"
            else:
                shown = str(value)
            lines.append(f"  [{tag}] {_TAG_TITLES[tag]}: {shown}")
        return lines

    def to_json(self) -> dict[str, object]:
        h = self.header
        return {
            "fileIdentifier": f"0x{FILE_IDENTIFIER:08X}",
            "totalSize": self.total_size,
            "headerSize": self.header_size,
            "vendorId": h.vendor_id,
            "productId": h.product_id,
            "softwareVersion": h.software_version,
            "softwareVersionString": h.software_version_string,
            "payloadSize": h.payload_size,
            "minApplicableVersion": h.min_applicable_version,
            "maxApplicableVersion": h.max_applicable_version,
            "releaseNotesUrl": h.release_notes_url,
            "digestType": h.image_digest_type.algorithm_name
            if isinstance(h.image_digest_type, DigestType)
            else int(h.image_digest_type),
            "digest": h.image_digest.hex(),
        }


def _parse_header_tlv(data: bytes) -> tuple[ImageHeader, tuple[tuple[int, object], ...]]:
    try:
        tag, value, end = tlv.decode_prefix(data)
    except tlv.TLVError as exc:
        raise ImageError(f"corrupt header TLV: {exc}") from None
    if end != len(data):
        raise ImageError(f"header TLV is {end} bytes but HeaderSize says {len(data)}")
    if tag is not None or not isinstance(value, tlv.Structure):
        raise ImageError("header TLV is not an anonymous structure")
    # Requestors parse the header strictly in order (OTAImageHeaderParser), so an
    # image whose tags are out of order, unknown or repeated would fail on the device.
    expected = iter(_TAG_ORDER)
    for member_tag in value:
        for want in expected:
            if member_tag == want:
                break
            if want not in _OPTIONAL_TAGS:
                raise ImageError(f"header TLV: expected tag {want}, found {member_tag!r}")
        else:
            raise ImageError(f"header TLV: unexpected tag {member_tag!r}")
    try:
        header = ImageHeader.from_tlv(value)
    except SchemaError as exc:
        raise ImageError(f"header TLV: {exc}") from None
    if not isinstance(header.image_digest_type, DigestType):
        raise ImageError(f"unknown image digest type {int(header.image_digest_type)}")
    if len(header.image_digest) != header.image_digest_type.digest_size:
        raise ImageError(
            f"digest is {len(header.image_digest)} bytes; "
            f"{header.image_digest_type.algorithm_name} needs {header.image_digest_type.digest_size}"
        )
    return header, tuple(value.items())


class HeaderAccumulator:
    """Parse an image header from bytes as they arrive (file reads or BDX blocks).

    ``feed`` returns the :class:`ImageInfo` once the whole header is in, ``None``
    before that; it raises :class:`ImageError` as soon as the bytes seen so far
    are invalid. At most ``FIXED_HEADER_SIZE + MAX_HEADER_SIZE`` bytes are kept.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._needed = FIXED_HEADER_SIZE
        self._total_size = 0
        self._header_size: int | None = None
        self.info: ImageInfo | None = None

    @property
    def bytes_needed(self) -> int:
        """How many more bytes the header needs (0 once parsed)."""
        return 0 if self.info is not None else self._needed - len(self._buffer)

    def feed(self, data: bytes | memoryview) -> ImageInfo | None:
        view = memoryview(data)
        while self.info is None:
            wanted = self.bytes_needed
            self._buffer += view[:wanted]
            view = view[wanted:]
            if len(self._buffer) < self._needed:
                return None
            if self._header_size is None:
                self._parse_fixed_header()
            else:
                self._parse_header_tlv()
        return self.info

    def _parse_fixed_header(self) -> None:
        magic, self._total_size, header_size = _FIXED.unpack(self._buffer[:FIXED_HEADER_SIZE])
        if magic != FILE_IDENTIFIER:
            raise ImageError(f"not an OTA image: file identifier is 0x{magic:08X}, expected 0x{FILE_IDENTIFIER:08X}")
        if header_size > MAX_HEADER_SIZE:
            raise ImageError(f"header is {header_size} bytes; requestors accept at most {MAX_HEADER_SIZE}")
        self._header_size = header_size
        self._needed = FIXED_HEADER_SIZE + header_size

    def _parse_header_tlv(self) -> None:
        assert self._header_size is not None
        header, fields = _parse_header_tlv(bytes(self._buffer[FIXED_HEADER_SIZE:]))
        expected_total = FIXED_HEADER_SIZE + self._header_size + header.payload_size
        if self._total_size != expected_total:
            raise ImageError(
                f"TotalSize is {self._total_size} but 16 + HeaderSize {self._header_size} + "
                f"PayloadSize {header.payload_size} = {expected_total}"
            )
        self.info = ImageInfo(header, self._total_size, self._header_size, fields)


def read_image_info(source: str | os.PathLike[str] | BinaryIO, *, check_file_size: bool = True) -> ImageInfo:
    """Parse the header of an image file (or binary stream) without reading its payload.

    For a path, the file's size must equal TotalSize unless ``check_file_size`` is off.
    """
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            with path.open("rb") as file:
                info = read_image_info(file)
                actual = os.fstat(file.fileno()).st_size
        except OSError as exc:
            raise ImageError(f"cannot read {path}: {exc.strerror or exc}") from None
        if check_file_size and actual != info.total_size:
            what = "truncated" if actual < info.total_size else "has trailing data"
            raise ImageError(f"image {what}: header says {info.total_size} bytes, file has {actual}")
        return info
    accumulator = HeaderAccumulator()
    while True:
        chunk = source.read(accumulator.bytes_needed)
        if not chunk:
            raise ImageError("truncated: the file ends inside the image header")
        parsed = accumulator.feed(chunk)
        if parsed is not None:
            return parsed


@dataclass(frozen=True)
class VerifyResult:
    info: ImageInfo
    payload_size: int
    digest: bytes

    @property
    def ok(self) -> bool:
        return self.payload_size == self.info.header.payload_size and self.digest == self.info.header.image_digest


def verify_image(path: str | os.PathLike[str]) -> VerifyResult:
    """Check the framing and recompute the payload digest; raise ImageError on a mismatch."""
    path = Path(path)
    info = read_image_info(path, check_file_size=False)
    try:
        with path.open("rb") as stream:
            stream.seek(info.payload_offset)
            hasher = info.header.image_digest_type.new_hash()
            size = _copy_chunks(stream, hasher.update)
    except OSError as exc:
        raise ImageError(f"cannot read {path}: {exc.strerror or exc}") from None
    result = VerifyResult(info, size, hasher.digest())
    if size != info.header.payload_size:
        what = "truncated" if size < info.header.payload_size else "has trailing data"
        raise ImageError(f"image {what}: payload is {size} bytes, header says {info.header.payload_size}")
    if not result.ok:
        raise ImageError(
            f"payload digest mismatch ({info.header.image_digest_type.algorithm_name}): "
            f"header {info.header.image_digest.hex()}, computed {result.digest.hex()}"
        )
    return result


def _copy_chunks(stream: BinaryIO, sink: Callable[[bytes], object]) -> int:
    total = 0
    while chunk := stream.read(CHUNK_SIZE):
        sink(chunk)
        total += len(chunk)
    return total


def compute_digest(paths: Iterable[str | os.PathLike[str]], digest_type: DigestType) -> tuple[int, bytes]:
    """Size and digest of the concatenation of ``paths``, streamed."""
    hasher = digest_type.new_hash()
    total = 0
    for path in paths:
        try:
            with open(path, "rb") as stream:
                total += _copy_chunks(stream, hasher.update)
        except OSError as exc:
            raise ImageError(f"cannot read {path}: {exc.strerror or exc}") from None
    return total, hasher.digest()


@dataclass(frozen=True)
class HeaderFields:
    """The header fields a person chooses (the rest follows from the payload)."""

    vendor_id: int
    product_id: int
    version: int
    version_string: str
    min_version: int | None = None
    max_version: int | None = None
    release_notes: str | None = None

    @classmethod
    def of(cls, header: ImageHeader) -> HeaderFields:
        return cls(
            vendor_id=header.vendor_id,
            product_id=header.product_id,
            version=header.software_version,
            version_string=header.software_version_string,
            min_version=header.min_applicable_version,
            max_version=header.max_applicable_version,
            release_notes=header.release_notes_url,
        )

    def with_changes(self, changes: Mapping[str, object]) -> HeaderFields:
        """A copy with every non-None value of ``changes`` applied."""
        given: dict[str, Any] = {key: value for key, value in changes.items() if value is not None}
        return dataclasses.replace(self, **given)

    def validate(self) -> list[str]:
        """The SDK tool's checks for ``create``; raises on an error, returns warnings."""
        if self.vendor_id == 0:
            raise ImageError("Vendor ID is zero")
        if self.product_id == 0:
            raise ImageError("Product ID is zero")
        if not 0 <= self.vendor_id <= 0xFFFF:
            raise ImageError(f"Vendor ID {self.vendor_id} does not fit 16 bits")
        if not 0 <= self.product_id <= 0xFFFF:
            raise ImageError(f"Product ID {self.product_id} does not fit 16 bits")
        if not 0 <= self.version <= 0xFFFF_FFFF:
            raise ImageError(f"Software version {self.version} does not fit 32 bits")
        if not 1 <= len(self.version_string) <= 64:
            raise ImageError("Software version string is not of length 1-64")
        if self.min_version is not None and self.min_version >= self.version:
            raise ImageError("Minimum applicable version is greater or equal to software version")
        if self.max_version is not None and self.max_version >= self.version:
            raise ImageError("Maximum applicable version is greater or equal to software version")
        if self.min_version is not None and self.max_version is not None and self.max_version < self.min_version:
            raise ImageError("Minimum applicable version is greater than maximum applicable version")
        warnings = []
        if self.release_notes is not None:
            if not 1 <= len(self.release_notes) <= 256:
                raise ImageError("Release notes URL must be of length 1-256")
            if not self.release_notes.startswith("https://"):
                warnings.append('Release notes URL does not start with "https://"')
        return warnings

    def header(self, payload_size: int, digest_type: DigestType, digest: bytes) -> ImageHeader:
        return ImageHeader(
            vendor_id=self.vendor_id,
            product_id=self.product_id,
            software_version=self.version,
            software_version_string=self.version_string,
            payload_size=payload_size,
            min_applicable_version=self.min_version,
            max_applicable_version=self.max_version,
            release_notes_url=self.release_notes,
            image_digest_type=digest_type,
            image_digest=digest,
        )


def build_header(header: ImageHeader) -> bytes:
    """The fixed header plus header TLV for ``header``, byte-identical to the SDK tool."""
    try:
        header_tlv = header.encode()
    except SchemaError as exc:
        raise ImageError(f"invalid header: {exc}") from None
    total = FIXED_HEADER_SIZE + len(header_tlv) + header.payload_size
    return _FIXED.pack(FILE_IDENTIFIER, total, len(header_tlv)) + header_tlv


def _info_for(header: ImageHeader, header_bytes: bytes) -> ImageInfo:
    total_size, header_size = _FIXED.unpack(header_bytes[:FIXED_HEADER_SIZE])[1:]
    return ImageInfo(header, total_size, header_size, tuple(header.to_tlv().items()))


def _write_atomically(output: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> None:
    """Write via a temporary file in the same folder, so a crash never leaves half an image."""
    output = Path(output)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent or ".")
    except OSError as exc:
        raise ImageError(f"cannot write {output}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, output)
    except OSError as exc:
        Path(tmp_name).unlink(missing_ok=True)
        raise ImageError(f"cannot write {output}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _write_image(
    output_file: str | os.PathLike[str], header: ImageHeader, payload: Iterable[tuple[Path, int]]
) -> ImageInfo:
    """Write ``header`` then each ``(file, offset)`` payload piece from that offset to its end."""
    header_bytes = build_header(header)

    def write(out: BinaryIO) -> None:
        out.write(header_bytes)
        for path, offset in payload:
            with path.open("rb") as stream:
                stream.seek(offset)
                _copy_chunks(stream, out.write)

    _write_atomically(output_file, write)
    return _info_for(header, header_bytes)


def create_image(
    input_files: Iterable[str | os.PathLike[str]],
    output_file: str | os.PathLike[str],
    fields: HeaderFields,
    digest_algorithm: str,
) -> tuple[ImageInfo, list[str]]:
    """Create an image from the concatenation of ``input_files``; return its info and any warnings."""
    inputs = [Path(p) for p in input_files]
    warnings = fields.validate()
    digest_type = DigestType.from_name(digest_algorithm)
    if digest_type.digest_size < 32:
        warnings.append("Using digest length below 256 bits is not recommended")
    payload_size, digest = compute_digest(inputs, digest_type)
    info = _write_image(output_file, fields.header(payload_size, digest_type, digest), [(p, 0) for p in inputs])
    return info, warnings


def extract_payload(image_file: str | os.PathLike[str], output_file: str | os.PathLike[str]) -> int:
    """Write everything after the header to ``output_file``; return the number of bytes."""
    source = Path(image_file)
    info = read_image_info(source, check_file_size=False)
    copied = 0

    def write(out: BinaryIO) -> None:
        nonlocal copied
        with source.open("rb") as stream:
            stream.seek(info.payload_offset)
            copied = _copy_chunks(stream, out.write)

    _write_atomically(output_file, write)
    return copied


def rewrite_header(
    image_file: str | os.PathLike[str],
    output_file: str | os.PathLike[str],
    changes: Mapping[str, object],
    *,
    digest_algorithm: str | None = None,
    recompute: bool = True,
) -> tuple[ImageInfo, list[str]]:
    """Copy an image with some header fields changed.

    ``changes`` maps :class:`HeaderFields` names to new values (``None`` keeps the current one).
    With ``recompute`` (the default) the payload size and digest are recomputed and the fields
    validated as for ``create``; without it the old size and digest are kept and nothing is
    checked, exactly like the SDK tool's ``change_header``.
    """
    source = Path(image_file)
    info = read_image_info(source, check_file_size=False)
    old = info.header
    fields = HeaderFields.of(old).with_changes(changes)
    digest_type = DigestType.from_name(digest_algorithm) if digest_algorithm else old.image_digest_type
    warnings: list[str] = []
    payload_size, digest = old.payload_size, old.image_digest
    if recompute:
        warnings = fields.validate()
        hasher = digest_type.new_hash()
        try:
            with source.open("rb") as stream:
                stream.seek(info.payload_offset)
                payload_size = _copy_chunks(stream, hasher.update)
        except OSError as exc:
            raise ImageError(f"cannot read {source}: {exc.strerror or exc}") from None
        digest = hasher.digest()
    header = fields.header(payload_size, digest_type, digest)
    return _write_image(output_file, header, [(source, info.payload_offset)]), warnings
