"""DNS-SD answers: the commissionable service and every subtype, operational per fabric."""

from __future__ import annotations

import asyncio

from zeroconf import DNSIncoming, DNSOutgoing, DNSQuestion, IPVersion
from zeroconf.asyncio import AsyncZeroconf
from zeroconf.const import _CLASS_IN, _FLAGS_QR_QUERY, _TYPE_PTR, _TYPE_SRV, _TYPE_TXT

from ota_provider.core.dnssd.advertiser import CommissionableService, MatterAdvertiser
from ota_provider.core.fabric.authority import FabricAuthority


def answers(zc: AsyncZeroconf, name: str, record_type: int) -> list:
    out = DNSOutgoing(_FLAGS_QR_QUERY)
    out.add_question(DNSQuestion(name, record_type, _CLASS_IN))
    incoming = DNSIncoming(out.packets()[0])
    result = zc.zeroconf.query_handler.async_response([incoming], False)
    if result is None:
        return []
    return [*result.ucast, *result.mcast_now, *result.mcast_aggregate, *result.mcast_aggregate_last_second]


def test_commissionable_and_subtype_answers():
    async def scenario():
        zc = AsyncZeroconf(ip_version=IPVersion.V4Only, interfaces=["127.0.0.1"])
        advertiser = MatterAdvertiser(5540, zeroconf=zc)
        try:
            await advertiser.set_commissionable(CommissionableService(3840, 0xFFF1, 0x8000, mode=1))
            (name,) = advertiser.advertised
            for query in (
                "_matterc._udp.local.",
                "_L3840._sub._matterc._udp.local.",
                "_S15._sub._matterc._udp.local.",
                "_V65521._sub._matterc._udp.local.",
                "_CM._sub._matterc._udp.local.",
            ):
                ptrs = [r for r in answers(zc, query, _TYPE_PTR) if r.type == _TYPE_PTR]
                assert [(p.name.lower(), p.alias) for p in ptrs] == [(query.lower(), name)], query
            assert answers(zc, "_L1234._sub._matterc._udp.local.", _TYPE_PTR) == []
            (txt,) = [r for r in answers(zc, name, _TYPE_TXT) if r.type == _TYPE_TXT]
            fields = dict(item.split(b"=", 1) for item in _txt_items(txt.text))
            assert fields[b"D"] == b"3840" and fields[b"CM"] == b"1" and fields[b"VP"] == b"65521+32768"
            assert {b"SII", b"SAI", b"SAT"} <= set(fields)
            (srv,) = [r for r in answers(zc, name, _TYPE_SRV) if r.type == _TYPE_SRV]
            assert srv.port == 5540
            await advertiser.set_commissionable(None)
            assert answers(zc, "_L3840._sub._matterc._udp.local.", _TYPE_PTR) == []
        finally:
            await advertiser.close()
            await zc.async_close()

    asyncio.run(scenario())


def test_operational_service_per_fabric():
    async def scenario():
        zc = AsyncZeroconf(ip_version=IPVersion.V4Only, interfaces=["127.0.0.1"])
        advertiser = MatterAdvertiser(5541, zeroconf=zc)
        fabric = FabricAuthority(fabric_id=0x2906C908D115D362).join(0x1234)
        try:
            await advertiser.set_fabrics([fabric])
            cfid = fabric.compressed_fabric_id.hex().upper()
            expected = f"{cfid}-0000000000001234._matter._tcp.local."
            assert advertiser.advertised == [expected]
            ptrs = [r for r in answers(zc, f"_I{cfid}._sub._matter._tcp.local.", _TYPE_PTR) if r.type == _TYPE_PTR]
            assert [p.alias for p in ptrs] == [expected]
            await advertiser.set_fabrics([])
            assert advertiser.advertised == []
        finally:
            await advertiser.close()
            await zc.async_close()

    asyncio.run(scenario())


def _txt_items(text: bytes) -> list[bytes]:
    items, i = [], 0
    while i < len(text):
        length = text[i]
        items.append(text[i + 1 : i + 1 + length])
        i += 1 + length
    return items


def test_the_commissionable_instance_name_lasts_for_the_window():
    async def scenario():
        zc = AsyncZeroconf(ip_version=IPVersion.V4Only, interfaces=["127.0.0.1"])
        advertiser = MatterAdvertiser(5542, zeroconf=zc)
        service = CommissionableService(3840, 0xFFF1, 0x8000, mode=1)
        try:
            await advertiser.set_commissionable(service)
            first = advertiser.advertised
            await advertiser.set_fabrics([FabricAuthority(fabric_id=7).join(0x10)])  # AddNOC during the window
            await advertiser.set_commissionable(CommissionableService(3840, 0xFFF1, 0x8000, mode=1))
            assert [n for n in advertiser.advertised if "_matterc" in n] == first
            await advertiser.set_commissionable(CommissionableService(3841, 0xFFF1, 0x8000, mode=2))  # a new window
            assert [n for n in advertiser.advertised if "_matterc" in n] != first
        finally:
            await advertiser.close()
            await zc.async_close()

    asyncio.run(scenario())
