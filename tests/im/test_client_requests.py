"""The requests our IM client sends, byte for byte against the spec's TLV layouts (Core spec 10.6,
8.5.2): context tags in ascending order, integers in their shortest form."""

from __future__ import annotations

from ota_provider.core.im.client import subscribe_request
from ota_provider.core.im.messages import AttributePath, EventPath, SubscribeRequest

SOFTWARE_VERSION = AttributePath(0, 0x0028, 0x000A)  # BasicInformation SoftwareVersion
REQUESTOR_EVENTS = EventPath(1, 0x002A, None)  # every OTA Requestor event on endpoint 1

HEAD = bytes.fromhex(
    "15"  # anonymous structure: SubscribeRequestMessage
    "2800"  # 0 KeepSubscriptions: false
    "240100"  # 1 MinIntervalFloor: 0
    "24023c"  # 2 MaxIntervalCeiling: 60
    "3603"
    "17"
    "240200"
    "240328"
    "24040a"
    "18"
    "18"  # 3 AttributeRequests: [AttributePathIB 0/0x28/0x0A]
)
TAIL = bytes.fromhex("290724ff0b18")  # 7 IsFabricFiltered: true, 0xFF InteractionModelRevision 11
EVENTS = bytes.fromhex("36041724010124022a1818")  # 4 EventRequests: [EventPathIB 1/0x2A/*]


def test_a_subscription_with_events_and_an_event_min_carries_its_event_filter():
    encoded = subscribe_request([SOFTWARE_VERSION], 0, 60, [REQUESTOR_EVENTS], event_min=0x1234)
    filters = bytes.fromhex("360515250134121818")  # 5 EventFilters: [EventFilterIB {1 EventMin}]
    assert encoded == HEAD + EVENTS + filters + TAIL
    assert SubscribeRequest.decode(encoded).event_filters[0].event_min == 0x1234


def test_no_event_filter_without_an_event_min_and_no_event_fields_without_events():
    assert subscribe_request([SOFTWARE_VERSION], 0, 60, [REQUESTOR_EVENTS]) == HEAD + EVENTS + TAIL
    assert subscribe_request([SOFTWARE_VERSION], 0, 60, event_min=9) == HEAD + TAIL
