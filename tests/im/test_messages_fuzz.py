"""IM decoders under mutation fuzzing: only TLVError (ImDecodeError is one) may escape."""

from __future__ import annotations

from ota_provider.core.codec import tlv
from ota_provider.core.codec.tlv import TLVError, UInt
from ota_provider.core.im.messages import (
    AttributeData,
    AttributePath,
    CommandData,
    CommandPath,
    InvokeRequest,
    InvokeResponse,
    ReadRequest,
    ReportData,
    StatusResponse,
    SubscribeRequest,
    TimedRequest,
    WriteRequest,
)
from tests.helpers.fuzzing import assert_only_raises, fuzz_inputs

CORPUS = [
    tlv.encode(
        tlv.Structure(
            {
                0: tlv.Array([AttributePath(0, 0x28, 2).to_tlv(), AttributePath(None, 0x31, 0xFFFC).to_tlv()]),
                3: False,
                0xFF: UInt(11),
            }
        )
    ),
    InvokeRequest(False, True, (CommandData(CommandPath(0, 0x29, 0), tlv.Structure({0: UInt(0xFFF1)}), 1),)).encode(),
    tlv.encode(
        tlv.Structure(
            {
                0: False,
                1: False,
                2: tlv.Array(
                    [
                        AttributeData(
                            AttributePath(0, 0x1F, 0, list_index_present=True), tlv.Structure({1: UInt(5)})
                        ).to_tlv()
                    ]
                ),
                0xFF: UInt(11),
            }
        )
    ),
    ReportData(
        [ReportData.data_report(AttributeData(AttributePath(0, 0x28, 9), UInt(3), 7))], more_chunked=True
    ).encode(),
    StatusResponse(0).encode(),
    TimedRequest(500).encode(),
    tlv.encode(tlv.Structure({0: True, 1: UInt(0), 2: UInt(60), 3: tlv.Array([AttributePath(0, 0x28, 1).to_tlv()])})),
]
DECODERS = [
    ReadRequest.decode,
    InvokeRequest.decode,
    WriteRequest.decode,
    ReportData.decode,
    StatusResponse.decode,
    TimedRequest.decode,
    SubscribeRequest.decode,
    InvokeResponse.decode,
]


def test_fuzz_every_im_decoder():
    for i, decoder in enumerate(DECODERS):
        inputs = fuzz_inputs(CORPUS, count=25_000, seed=0x1A0 + i, max_random_len=80)
        assert assert_only_raises(decoder, TLVError, inputs) == 25_000


def test_read_request_layout():
    request = ReadRequest.decode(CORPUS[0])
    assert request.attribute_requests == (AttributePath(0, 0x28, 2), AttributePath(None, 0x31, 0xFFFC))
    assert request.is_fabric_filtered is False
