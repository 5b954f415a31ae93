"""After commissioning: what the device is, whether it has an OTA Requestor, and pointing it at us.

Cluster facts (OTA Software Update Requestor 0x002A; INTEROP_MATTERJS.md, OTA_PROVIDER_SPEC.md §5):
DefaultOTAProviders is a fabric-scoped list, so writing it touches only our fabric's entry (one per
fabric); an SDK requestor ignores AnnounceOTAProvider unless its UpdateState is Idle, and queries
about 1 s after an UrgentUpdateAvailable announce but 1..600 s after the other reasons. On a bench
the technician wants the update now, so the announce is urgent unless told otherwise.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..codec import tlv
from ..codec.tlv import UInt
from ..im.messages import AttributePath
from ..ota.types import UpdateState, update_state
from ..presentation.words import update_state_name
from .calls import CallError, DeviceCalls

__all__ = [
    "OTA_REQUESTOR",
    "AnnouncementReason",
    "DeviceInfo",
    "announce",
    "our_fabric_index",
    "point_at",
    "read_device",
    "remove_our_fabric",
]

BASIC_INFORMATION, DESCRIPTOR, OTA_REQUESTOR = 0x0028, 0x001D, 0x002A
SERVER_LIST = 0x0001
DEFAULT_OTA_PROVIDERS, UPDATE_POSSIBLE, UPDATE_STATE, UPDATE_STATE_PROGRESS = 0, 1, 2, 3
SOFTWARE_VERSION = 0x0009  # BasicInformation
ANNOUNCE_OTA_PROVIDER = 0x00
OUR_PROVIDER_ENDPOINT = 0  # the OTA Provider cluster lives on our root endpoint


class AnnouncementReason(enum.IntEnum):
    SIMPLE_ANNOUNCEMENT = 0
    UPDATE_AVAILABLE = 1
    URGENT_UPDATE_AVAILABLE = 2


@dataclass(frozen=True)
class DeviceInfo:
    vendor_id: int
    product_id: int
    software_version: int
    software_version_string: str
    product_name: str
    requestor_endpoint: int | None  # None: the device has no OTA Requestor cluster
    update_state: int | None = None

    @property
    def state(self) -> UpdateState | int:
        return update_state(self.update_state)


async def read_device(calls: DeviceCalls) -> DeviceInfo:
    """BasicInformation, and the endpoint of the OTA Requestor cluster from the Descriptor."""
    basic = await calls.read(
        [AttributePath(0, BASIC_INFORMATION, a) for a in (2, 3, 4, 9, 10)], "the BasicInformation read"
    )
    servers = await calls.read([AttributePath(None, DESCRIPTOR, SERVER_LIST)], "the Descriptor read")
    endpoint = min(
        (ep for (ep, _, _), clusters in servers.items() if OTA_REQUESTOR in list(clusters or ())), default=None
    )
    state = None
    if endpoint is not None:
        values = await calls.read([AttributePath(endpoint, OTA_REQUESTOR, UPDATE_STATE)], "the UpdateState read")
        state = values.get((endpoint, OTA_REQUESTOR, UPDATE_STATE))

    def value(attribute, default):
        got = basic.get((0, BASIC_INFORMATION, attribute))
        return default if got is None else got

    return DeviceInfo(
        int(value(2, 0)),
        int(value(4, 0)),
        int(value(9, 0)),
        str(value(10, "")),
        str(value(3, "")),
        endpoint,
        None if state is None else int(state),
    )


async def point_at(calls: DeviceCalls, endpoint: int, provider_node_id: int, fabric_index: int) -> None:
    """DefaultOTAProviders := [us] for our fabric; the other fabrics' entries are theirs and stay."""
    entry = tlv.Structure({1: UInt(provider_node_id), 2: UInt(OUR_PROVIDER_ENDPOINT), 0xFE: UInt(fabric_index)})
    await calls.write(
        AttributePath(endpoint, OTA_REQUESTOR, DEFAULT_OTA_PROVIDERS),
        tlv.Array([entry]),
        "the DefaultOTAProviders write",
    )


async def announce(
    calls: DeviceCalls, endpoint: int, provider_node_id: int, vendor_id: int, reason: AnnouncementReason
) -> None:
    await calls.invoke(
        OTA_REQUESTOR,
        ANNOUNCE_OTA_PROVIDER,
        {0: UInt(provider_node_id), 1: UInt(vendor_id), 2: UInt(reason), 4: UInt(OUR_PROVIDER_ENDPOINT)},
        "AnnounceOTAProvider",
        endpoint=endpoint,
    )


OPERATIONAL_CREDENTIALS, CURRENT_FABRIC_INDEX, REMOVE_FABRIC = 0x003E, 0x0005, 0x0A


async def our_fabric_index(calls: DeviceCalls) -> int:
    """Our fabric's index on the device (CurrentFabricIndex over our CASE session)."""
    values = await calls.read(
        [AttributePath(0, OPERATIONAL_CREDENTIALS, CURRENT_FABRIC_INDEX)],
        "the CurrentFabricIndex read",
        fabric_filtered=True,
    )
    return int(values[(0, OPERATIONAL_CREDENTIALS, CURRENT_FABRIC_INDEX)])


async def remove_our_fabric(calls: DeviceCalls, fabric_index: int) -> None:
    """RemoveFabric of our own fabric: the device forgets us; its other fabrics stay."""
    fields = await calls.invoke(OPERATIONAL_CREDENTIALS, REMOVE_FABRIC, {0: UInt(fabric_index)}, "RemoveFabric")
    if fields is not None and int(fields[0]) != 0:
        raise CallError(f"RemoveFabric: the device answered status {int(fields[0])}")


# OTA Requestor events (INTEROP_MATTERJS.md, cluster facts), in words.
_EVENTS = {0: "StateTransition", 1: "VersionApplied", 2: "DownloadError"}
_REASONS = {0: "Unknown", 1: "Success", 2: "Failure", 3: "TimeOut", 4: "DelayByProvider"}


def describe_requestor_event(event_id: int, fields) -> tuple[str, str]:
    """(event name, its fields in words) for an OTA Requestor event's data."""
    name = _EVENTS.get(event_id, f"event 0x{event_id:02X}")
    data = fields if isinstance(fields, dict) else {}

    def get(tag):  # plain numbers (the TLV values are int subclasses with their own repr)
        value = data.get(tag)
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else value

    if event_id == 0:
        target = get(3)
        return name, (
            f"{update_state_name(update_state(get(0)))} -> {update_state_name(update_state(get(1)))}, reason "
            f"{_REASONS.get(get(2), get(2))}" + (f", target version {target}" if target is not None else "")
        )
    if event_id == 1:
        return name, f"now running version {get(0)} (product 0x{int(get(1) or 0):04X})"
    if event_id == 2:
        percent = get(2)
        return name, (
            f"while downloading version {get(0)}: {get(1)} bytes received"
            + (f" ({percent}%)" if percent is not None else "")
            + f", platform code {get(3)}"
        )
    return name, str(data)
