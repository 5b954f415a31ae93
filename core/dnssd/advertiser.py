"""DNS-SD advertising for Matter with python-zeroconf (Core spec 4.3).

* Commissionable: ``<random 64-bit>._matterc._udp`` with TXT D, CM, VP, DN, SII, SAI, SAT, PH,
  and subtypes ``_L<discriminator>``, ``_S<short discriminator>``, ``_V<vendor id>``, ``_CM``,
  while a commissioning window is open.
* Operational: ``<CompressedFabricID>-<NodeID>._matter._tcp`` per fabric, subtype ``_I<CFID>``.

python-zeroconf answers PTR queries from its registry's per-type index and has no notion of
several subtypes per service. Each subtype therefore gets an alias ServiceInfo (same instance
name, the subtype as its type) placed in that index only: queries for the subtype are answered
with a PTR to the instance, while the instance itself stays registered once.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass

import ifaddr
from zeroconf import InterfaceChoice, IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from ..fabric.table import Fabric
from ..session.secure import SessionParameters
from .scoping import scope_answers_per_interface

__all__ = ["CommissionableService", "MatterAdvertiser", "local_addresses"]

log = logging.getLogger(__name__)

COMMISSIONABLE = "_matterc._udp.local."
OPERATIONAL = "_matter._tcp.local."


def local_addresses() -> list[str]:
    """Every usable address (the SDK ignores loopback, so we do not advertise it)."""
    addresses = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if ip.is_IPv4:
                if not str(ip.ip).startswith("127."):
                    addresses.append(str(ip.ip))
            else:
                assert isinstance(ip.ip, tuple)  # ifaddr: (address, flowinfo, scope id) for IPv6
                address, _flowinfo, scope = ip.ip
                if address == "::1":
                    continue
                addresses.append(f"{address}%{scope}" if address.startswith("fe80") else address)
    return addresses


@dataclass(frozen=True)
class CommissionableService:
    discriminator: int
    vendor_id: int
    product_id: int
    mode: int  # CM: 1 basic window, 2 enhanced window
    device_name: str = "OTA Provider"
    pairing_hint: int = 33

    @property
    def subtypes(self) -> list[str]:
        return [
            f"_L{self.discriminator}._sub.{COMMISSIONABLE}",
            f"_S{self.discriminator >> 8}._sub.{COMMISSIONABLE}",
            f"_V{self.vendor_id}._sub.{COMMISSIONABLE}",
            f"_CM._sub.{COMMISSIONABLE}",
        ]


class MatterAdvertiser:
    def __init__(
        self,
        port: int,
        *,
        parameters: SessionParameters | None = None,
        interfaces: list[str] | None = None,
        zeroconf: AsyncZeroconf | None = None,
    ) -> None:
        self.port = port
        self.parameters = parameters or SessionParameters()
        self._interfaces = interfaces
        self._zc = zeroconf
        self._owns_zc = zeroconf is None
        self.hostname = f"{secrets.token_hex(8).upper()}.local."
        self._services: dict[str, list[ServiceInfo]] = {}  # key -> [main info, aliases...]
        self._lock = asyncio.Lock()
        self._commissionable: CommissionableService | None = None

    @property
    def zeroconf(self) -> AsyncZeroconf:
        if self._zc is None:
            self._zc = AsyncZeroconf(ip_version=IPVersion.All, interfaces=self._interfaces or InterfaceChoice.All)
            scope_answers_per_interface(self._zc.zeroconf, self.hostname)
        return self._zc

    def _session_txt(self) -> dict[str, str]:
        return {
            "SII": str(self.parameters.idle_interval_ms),
            "SAI": str(self.parameters.active_interval_ms),
            "SAT": str(self.parameters.active_threshold_ms),
        }

    def _info(self, type_: str, name: str, properties: dict[str, str]) -> ServiceInfo:
        return ServiceInfo(
            type_,
            name,
            port=self.port,
            properties=properties,
            server=self.hostname,
            parsed_addresses=[a.split("%")[0] for a in local_addresses()],
        )

    async def _register(self, key: str, base_type: str, instance: str, properties: dict, subtypes: list[str]) -> None:
        name = f"{instance}.{base_type}"
        info = self._info(base_type, name, properties)
        # No probing: the operational name is unique by construction (compressed fabric id and
        # node id) and the commissionable one is 64 random bits. The SDK's minimal mDNS does not
        # probe either; probing would hold each record back for about a second, and the
        # commissioner waits for the operational record before CommissioningComplete.
        await self.zeroconf.async_register_service(info, allow_name_change=False, cooperating_responders=True)
        aliases = []
        registry = self.zeroconf.zeroconf.registry
        for subtype in subtypes:
            alias = self._info(subtype, name, properties)
            registry.types.setdefault(subtype.lower(), {})[alias.key] = alias
            aliases.append(alias)
        self._services[key] = [info, *aliases]
        log.info("advertising %s (%s)", info.name, ", ".join(s.split(".")[0] for s in subtypes))

    async def _unregister(self, key: str) -> None:
        infos = self._services.pop(key, None)
        if not infos:
            return
        registry = self.zeroconf.zeroconf.registry
        for alias in infos[1:]:
            bucket = registry.types.get(alias.type.lower(), {})
            bucket.pop(alias.key, None)
            if not bucket:
                registry.types.pop(alias.type.lower(), None)
        await self.zeroconf.async_unregister_service(infos[0])

    # ------------------------------------------------------------------ public

    async def set_commissionable(self, service: CommissionableService | None) -> None:
        """Advertise ``service`` (None: withdraw). The same service keeps its record, and so its
        instance name, for the life of the window; only a change re-registers it."""
        async with self._lock:
            if service is not None and service == self._commissionable:
                return
            self._commissionable = service
            await self._unregister("commissionable")
            if service is None:
                return
            txt = {
                "D": str(service.discriminator),
                "CM": str(service.mode),
                "VP": f"{service.vendor_id}+{service.product_id}",
                "DN": service.device_name,
                "PH": str(service.pairing_hint),
                **self._session_txt(),
            }
            instance = secrets.token_hex(8).upper()
            await self._register("commissionable", COMMISSIONABLE, instance, txt, service.subtypes)

    async def set_fabrics(self, fabrics: list[Fabric]) -> None:
        async with self._lock:
            wanted = {f"operational/{f.operational_instance_name}": f for f in fabrics}
            for key in [k for k in self._services if k.startswith("operational/") and k not in wanted]:
                await self._unregister(key)
            for key, fabric in wanted.items():
                if key in self._services:
                    continue
                cfid = fabric.compressed_fabric_id.hex().upper()
                subtype = f"_I{cfid}._sub.{OPERATIONAL}"
                await self._register(key, OPERATIONAL, fabric.operational_instance_name, self._session_txt(), [subtype])

    @property
    def advertised(self) -> list[str]:
        return [infos[0].name for infos in self._services.values()]

    async def close(self) -> None:
        async with self._lock:
            for key in list(self._services):
                await self._unregister(key)
        if self._owns_zc and self._zc is not None:
            await self._zc.async_close()
            self._zc = None
