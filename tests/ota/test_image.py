"""OTA image format: byte layouts from OTA_PROVIDER_SPEC.md §3, parsing limits, digests."""

from __future__ import annotations

import hashlib
import struct

import pytest

from ota_provider.core.codec import tlv
from ota_provider.core.ota.image import (
    CREATE_DIGEST_ALGORITHMS,
    DigestType,
    HeaderAccumulator,
    HeaderFields,
    ImageError,
    ImageHeader,
    build_header,
    create_image,
    extract_payload,
    read_image_info,
    rewrite_header,
    verify_image,
)
from tests.helpers.fuzzing import assert_only_raises, fuzz_inputs
from tests.helpers.images import PAYLOAD, hand_built_image


def create(tmp_path, payload=PAYLOAD, name="out.ota", **overrides):
    src = tmp_path / "payload.bin"
    src.write_bytes(payload)
    digest_algorithm = overrides.pop("digest_algorithm", "sha256")
    fields = HeaderFields(
        **{"vendor_id": 0xDEAD, "product_id": 0xBEEF, "version": 2, "version_string": "2.0", **overrides}
    )
    out = tmp_path / name
    info, warnings = create_image([src], out, fields, digest_algorithm)
    return out, info, warnings


def test_create_matches_hand_built_layout(tmp_path):
    out, info, warnings = create(tmp_path)
    assert out.read_bytes() == hand_built_image()
    assert warnings == []
    assert info.header_size == 60


def test_spec_worked_example_sizes(tmp_path):
    # §3.2: VID 0xDEAD, PID 0xBEEF, version 2 ("2.0"), payload 1,922,584 bytes, sha256
    # -> header TLV 63 bytes, total 1,922,663.
    out, info, _ = create(tmp_path, payload=bytes(1_922_584))
    assert info.header_size == 63
    assert info.total_size == 1_922_663
    assert out.stat().st_size == 1_922_663
    assert read_image_info(out).header.payload_size == 1_922_584


def test_optional_fields_are_placed_between_payload_size_and_digest_type(tmp_path):
    out, info, warnings = create(
        tmp_path, version=0x10000, min_version=1, max_version=0xFFFF, release_notes="http://example.com/n"
    )
    raw = out.read_bytes()[16 : 16 + info.header_size]
    tags = [tag for tag, _ in tlv.decode(raw).items()]
    assert tags == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    # version 0x10000 needs a 4-octet uint; max 0xFFFF a 2-octet one.
    assert bytes.fromhex("26 02 00 00 01 00".replace(" ", "")) in raw
    assert bytes.fromhex("25 06 ff ff".replace(" ", "")) in raw
    assert warnings == ['Release notes URL does not start with "https://"']


def test_multiple_input_files_are_concatenated(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"first-")
    b.write_bytes(b"second")
    out = tmp_path / "x.ota"
    info, _ = create_image([a, b], out, HeaderFields(1, 1, 1, "1"), "sha512")
    assert out.read_bytes()[info.payload_offset :] == b"first-second"
    assert info.header.image_digest == hashlib.sha512(b"first-second").digest()


def test_show_lines_match_sdk_tool_format(tmp_path):
    out, _, _ = create(tmp_path)
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    assert read_image_info(out).show_lines() == [
        "Magic: 1beef11e",
        "Total Size: 90",
        "Header Size: 60",
        "Header TLV:",
        "  [0] Vendor Id: 57005 (0xdead)",
        "  [1] Product Id: 48879 (0xbeef)",
        "  [2] Version: 2 (0x2)",
        "  [3] Version String: 2.0",
        "  [4] Payload Size: 14 (0xe)",
        "  [8] Digest Type: 1 (0x1)",
        f"  [9] Digest: {digest}",
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"vendor_id": 0}, "Vendor ID is zero"),
        ({"product_id": 0}, "Product ID is zero"),
        ({"version_string": ""}, "length 1-64"),
        ({"version_string": "x" * 65}, "length 1-64"),
        ({"min_version": 2}, "Minimum applicable version is greater or equal"),
        ({"max_version": 3}, "Maximum applicable version is greater or equal"),
        ({"min_version": 1, "max_version": 0}, "Minimum applicable version is greater than maximum"),
        ({"release_notes": "x" * 257}, "length 1-256"),
        ({"vendor_id": 0x10000}, "16 bits"),
        ({"digest_algorithm": "md5"}, "unknown digest"),
    ],
)
def test_create_validates_like_the_sdk_tool(tmp_path, overrides, message):
    with pytest.raises(ImageError, match=message):
        create(tmp_path, **overrides)
    assert not (tmp_path / "out.ota").exists()


def test_short_digest_warns(tmp_path):
    header = ImageHeader(
        vendor_id=1,
        product_id=1,
        software_version=1,
        software_version_string="1",
        payload_size=len(PAYLOAD),
        image_digest_type=DigestType.SHA256_128,
        image_digest=hashlib.sha256(PAYLOAD).digest()[:16],
    )
    path = tmp_path / "t.ota"
    path.write_bytes(build_header(header) + PAYLOAD)
    assert verify_image(path).ok


@pytest.mark.parametrize("digest_type", list(DigestType))
def test_verify_every_digest_type(tmp_path, digest_type):
    name = digest_type.algorithm_name
    base = "sha256" if name.startswith("sha256_") else name
    digest = hashlib.new(base, PAYLOAD).digest()[: digest_type.digest_size]
    header = ImageHeader(
        vendor_id=1,
        product_id=1,
        software_version=1,
        software_version_string="1",
        payload_size=len(PAYLOAD),
        image_digest_type=digest_type,
        image_digest=digest,
    )
    path = tmp_path / "t.ota"
    path.write_bytes(build_header(header) + PAYLOAD)
    assert verify_image(path).ok
    path.write_bytes(build_header(header) + PAYLOAD[:-1] + b"!")
    with pytest.raises(ImageError, match="digest mismatch"):
        verify_image(path)


def test_create_offers_the_hashlib_algorithms():
    assert {"sha256", "sha384", "sha512", "sha3_256"} <= set(CREATE_DIGEST_ALGORITHMS)
    assert "sha256_128" not in CREATE_DIGEST_ALGORITHMS


def _mutated(image: bytes, offset: int, value: bytes) -> bytes:
    return image[:offset] + value + image[offset + len(value) :]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda img: _mutated(img, 0, b"\x00\x00\x00\x00"), "not an OTA image"),
        (lambda img: _mutated(img, 4, struct.pack("<Q", 91)), "TotalSize is 91"),
        (lambda img: _mutated(img, 12, struct.pack("<I", 2000)), "at most 1024"),
        (lambda img: _mutated(img, 12, struct.pack("<I", 59)), "corrupt header TLV|header TLV"),
        (lambda img: img[:10], "truncated"),
        (lambda img: img[:40], "truncated"),
        (lambda img: img[:-1], "truncated"),
        (lambda img: img + b"x", "trailing data"),
        (lambda img: _mutated(img, 16 + 1, b"\x25\x0b"), "expected tag 0, found 11"),
        (lambda img: _mutated(img, 16 + 21, b"\x24\x0a"), "expected tag 8, found 10"),
        (lambda img: _mutated(img, 16 + 23, b"\x0d"), "unknown image digest type 13"),
        (lambda img: _mutated(img, 16 + 23, b"\x07"), "needs 48"),  # sha384 with a 32-byte digest
        (lambda img: _mutated(img, 16 + 1, b"\x21"), "signedness"),  # VendorID as a signed int16
    ],
)
def test_corrupt_images_are_rejected_with_a_clear_message(tmp_path, mutate, message):
    path = tmp_path / "bad.ota"
    path.write_bytes(mutate(hand_built_image()))
    with pytest.raises(ImageError, match=message):
        verify_image(path) if "trailing" in message or "truncated" in message else read_image_info(path)


def test_out_of_order_tags_are_rejected():
    header = tlv.Structure(
        {0: tlv.UInt(1), 1: tlv.UInt(1), 3: "1", 2: tlv.UInt(1), 4: tlv.UInt(0), 8: tlv.UInt(1), 9: bytes(32)}
    )
    body = tlv.encode(header)
    data = struct.pack("<IQI", 0x1BEEF11E, 16 + len(body), len(body)) + body
    with pytest.raises(ImageError, match="expected tag 2, found 3"):
        HeaderAccumulator().feed(data)


def test_accumulator_accepts_bytes_one_at_a_time():
    image = hand_built_image()
    accumulator = HeaderAccumulator()
    result = None
    for i in range(len(image)):
        result = accumulator.feed(image[i : i + 1])
        if result:
            assert i == 16 + 60 - 1
            break
    assert result is not None and result.header.software_version_string == "2.0"
    assert accumulator.bytes_needed == 0
    whole = HeaderAccumulator().feed(image)
    assert whole == result


def test_extract_writes_the_payload(tmp_path):
    out, _, _ = create(tmp_path)
    target = tmp_path / "payload.out"
    assert extract_payload(out, target) == len(PAYLOAD)
    assert target.read_bytes() == PAYLOAD


def test_change_header_recomputes_digest_by_default(tmp_path):
    out, _, _ = create(tmp_path)
    changed = tmp_path / "changed.ota"
    info, _ = rewrite_header(out, changed, {"version": 3, "version_string": "3.0"}, digest_algorithm="sha512")
    assert info.header.software_version == 3
    assert info.header.image_digest == hashlib.sha512(PAYLOAD).digest()
    assert verify_image(changed).ok
    assert changed.read_bytes()[info.payload_offset :] == PAYLOAD


def test_change_header_validates_unless_asked_not_to(tmp_path):
    out, _, _ = create(tmp_path, min_version=1)
    with pytest.raises(ImageError, match="Minimum applicable version"):
        rewrite_header(out, tmp_path / "c.ota", {"version": 1})
    info, _ = rewrite_header(out, tmp_path / "c.ota", {"version": 1}, recompute=False)
    assert info.header.min_applicable_version == 1


def test_change_header_no_recompute_keeps_old_digest_like_the_sdk(tmp_path):
    out, old, _ = create(tmp_path)
    changed = tmp_path / "changed.ota"
    info, _ = rewrite_header(out, changed, {"vendor_id": 0xFFF1}, recompute=False)
    assert info.header.image_digest == old.header.image_digest
    assert info.header.vendor_id == 0xFFF1
    assert verify_image(changed).ok  # the payload did not change, so the old digest still holds
    # Changing the digest algorithm without recomputing yields an inconsistent header, as in the SDK tool.
    rewrite_header(out, changed, {}, digest_algorithm="sha512", recompute=False)
    with pytest.raises(ImageError, match="needs 64"):
        read_image_info(changed)


def test_fuzz_header_parser_raises_only_image_error(tmp_path):
    corpus = [
        hand_built_image()[:76],
        create(tmp_path, min_version=1, max_version=1, release_notes="https://x")[0].read_bytes()[:120],
    ]

    def parse(data: bytes) -> object:
        return HeaderAccumulator().feed(data)

    inputs = fuzz_inputs(corpus, count=100_000, seed=0x0A7A)
    assert assert_only_raises(parse, ImageError, inputs) == 100_000
