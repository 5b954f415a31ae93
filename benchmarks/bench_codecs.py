#!/usr/bin/env python3
"""Codec and image throughput: TLV encode/decode, message headers, image verify.

Prints one line per figure and, last, a JSON summary line. Figures only: nothing here
asserts a time. Run: ``.venv/bin/python benchmarks/bench_codecs.py``.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ota_provider.core.codec import tlv
from ota_provider.core.codec.message import MessageHeader, PayloadHeader
from ota_provider.core.ota.image import HeaderFields, create_image, verify_image


def rate(label: str, fn: Callable[[], object], seconds: float = 0.5) -> float:
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            fn()
        count += 100
    per_second = count / (time.perf_counter() - start)
    print(f"{label:45s} {per_second:12,.0f} /s")
    return per_second


def main() -> int:
    # An InvokeRequest-sized structure: what the IM layer decodes per QueryImage.
    command = tlv.Structure(
        {
            0: False,
            1: False,
            2: tlv.Array(
                [
                    tlv.Structure(
                        {
                            0: tlv.TLVList([(0, tlv.UInt(0)), (1, tlv.UInt(0x29)), (2, tlv.UInt(0))]),
                            1: tlv.Structure(
                                {0: tlv.UInt(0xFFF1), 1: tlv.UInt(0x8000), 2: tlv.UInt(1), 3: tlv.Array([tlv.UInt(0)])}
                            ),
                        }
                    )
                ]
            ),
            0xFF: tlv.UInt(12),
        }
    )
    encoded = tlv.encode(command)
    header = MessageHeader(session_id=0x1234, message_counter=77).encode() + PayloadHeader(1, 2, 8, True, True).encode()
    summary = {
        "tlv_encode_invoke_per_s": rate("TLV encode (InvokeRequest, 40 bytes)", lambda: tlv.encode(command)),
        "tlv_decode_invoke_per_s": rate("TLV decode (InvokeRequest, 40 bytes)", lambda: tlv.decode(encoded)),
        "message_header_decode_per_s": rate(
            "message + protocol header decode", lambda: PayloadHeader.decode(header[MessageHeader.decode(header)[1] :])
        ),
    }
    with tempfile.TemporaryDirectory() as tmp:
        payload = Path(tmp) / "p.bin"
        payload.write_bytes(bytes(64 * 1024 * 1024))
        image = Path(tmp) / "p.ota"
        start = time.perf_counter()
        create_image([payload], image, HeaderFields(1, 1, 2, "2"), "sha256")
        create_s = time.perf_counter() - start
        start = time.perf_counter()
        verify_image(image)
        verify_s = time.perf_counter() - start
    summary["image_create_64mib_mb_per_s"] = 64 / create_s
    summary["image_verify_64mib_mb_per_s"] = 64 / verify_s
    print(f"{'ota image create, 64 MiB (sha256)':45s} {64 / create_s:12,.0f} MiB/s")
    print(f"{'ota image verify, 64 MiB (sha256)':45s} {64 / verify_s:12,.0f} MiB/s")
    print(json.dumps({"benchmark": "codecs", **{k: round(v, 1) for k, v in summary.items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
