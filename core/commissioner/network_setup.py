"""Giving a device its network over the Network Commissioning cluster (0x0031, Core spec 11.9), within
the fail-safe, as the SDK's commissioner does for a device reached over BLE: find the endpoint whose
interface has the feature the credentials are for, AddOrUpdateWiFiNetwork or
AddOrUpdateThreadNetwork, then ConnectNetwork.

Every NetworkingStatus, and the Wi-Fi stack's error value, becomes a sentence a technician can act
on (:class:`NetworkRefused`). A device that drops the BLE link while it switches its radio to join
(single-radio devices do) never answers ConnectNetwork: that is not a failure here, the caller looks
for the device on IP next and says both facts if it is not there.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..codec.tlv import UInt
from ..im.messages import AttributePath
from .calls import DeviceCalls
from .network_credentials import ThreadDataset, WifiCredentials

__all__ = [
    "NETWORK_COMMISSIONING",
    "Joined",
    "NetworkFeature",
    "NetworkRefused",
    "add_network",
    "connect_network",
    "find_interface",
]

NETWORK_COMMISSIONING = 0x0031
FEATURE_MAP = 0xFFFC
CONNECT_MAX_TIME_SECONDS = 0x0003
SCAN_NETWORKS, ADD_OR_UPDATE_WIFI, ADD_OR_UPDATE_THREAD, CONNECT_NETWORK = 0x00, 0x02, 0x03, 0x06
# How long ConnectNetwork may take beyond the device's own ConnectMaxTimeSeconds: BLE round trips.
CONNECT_MARGIN_SECONDS = 15.0

Credentials = WifiCredentials | ThreadDataset


class NetworkFeature(enum.IntFlag):
    WIFI = 0x1
    THREAD = 0x2
    ETHERNET = 0x4


class Status(enum.IntEnum):
    """NetworkCommissioningStatusEnum (Core spec 11.9.5.1)."""

    SUCCESS = 0
    OUT_OF_RANGE = 1
    BOUNDS_EXCEEDED = 2
    NETWORK_ID_NOT_FOUND = 3
    DUPLICATE_NETWORK_ID = 4
    NETWORK_NOT_FOUND = 5
    REGULATORY_ERROR = 6
    AUTH_FAILURE = 7
    UNSUPPORTED_SECURITY = 8
    OTHER_CONNECTION_FAILURE = 9
    IPV6_FAILED = 10
    IP_BIND_FAILED = 11
    UNKNOWN_ERROR = 12


# The IEEE 802.11 status and reason codes a Wi-Fi stack reports as ConnectNetwork's ErrorValue,
# for the common ways a join fails on a bench.
_WIFI_ERRORS = {
    1: "unspecified failure",
    2: "the previous authentication is no longer valid",
    15: "the 4-way handshake timed out, which is what a wrong passphrase looks like",
    16: "the group key handshake timed out",
    17: "the access point is full (too many associated stations)",
    23: "the access point refused the station's capabilities",
}


class NetworkRefused(RuntimeError):
    """The device refused the credentials or could not join: a sentence saying what to do."""


@dataclass(frozen=True)
class Joined:
    """ConnectNetwork's outcome: answered Success, or no answer (the device may have switched radios)."""

    answered: bool


def feature_for(credentials: Credentials) -> NetworkFeature:
    return NetworkFeature.WIFI if isinstance(credentials, WifiCredentials) else NetworkFeature.THREAD


def network_id(credentials: Credentials) -> bytes:
    """What ConnectNetwork names: the SSID, or the dataset's extended PAN ID (Core spec 11.9.7.3)."""
    return credentials.ssid if isinstance(credentials, WifiCredentials) else credentials.extended_pan_id


async def find_interface(calls: DeviceCalls, credentials: Credentials) -> int:
    """The endpoint of the device's network interface for these credentials; NetworkRefused if it has none."""
    maps = await calls.read([AttributePath(None, NETWORK_COMMISSIONING, FEATURE_MAP)], "the Network Commissioning read")
    interfaces = {endpoint: NetworkFeature(int(value) & 0x7) for (endpoint, _, _), value in maps.items()}
    wanted = feature_for(credentials)
    for endpoint in sorted(interfaces):
        if interfaces[endpoint] & wanted:
            return endpoint
    has = sorted({_feature_words(f) for f in interfaces.values() if f}) or ["no network interface to configure"]
    raise NetworkRefused(
        f"the device has no {_feature_words(wanted)} interface (it has {', '.join(has)}): "
        f"give it {'a Thread dataset' if wanted is NetworkFeature.WIFI else 'Wi-Fi credentials'} instead"
    )


async def add_network(calls: DeviceCalls, endpoint: int, credentials: Credentials, breadcrumb: int) -> None:
    if isinstance(credentials, WifiCredentials):
        command, fields, what = (
            ADD_OR_UPDATE_WIFI,
            {0: credentials.ssid, 1: credentials.passphrase, 2: UInt(breadcrumb)},
            "AddOrUpdateWiFiNetwork",
        )
    else:
        command, fields, what = (
            ADD_OR_UPDATE_THREAD,
            {0: credentials.tlvs, 1: UInt(breadcrumb)},
            "AddOrUpdateThreadNetwork",
        )
    answer = await calls.invoke(NETWORK_COMMISSIONING, command, fields, what, endpoint=endpoint)
    status = int(answer[0]) if answer is not None else Status.UNKNOWN_ERROR
    if status != Status.SUCCESS:
        raise NetworkRefused(
            f"the device refused {credentials.describe()}: {_status_words(status, credentials, answer)}"
        )


async def connect_network(calls: DeviceCalls, endpoint: int, credentials: Credentials, breadcrumb: int) -> Joined:
    """ConnectNetwork; NetworkRefused with the reason when the device answers that it could not join."""
    limit = await calls.read(
        [AttributePath(endpoint, NETWORK_COMMISSIONING, CONNECT_MAX_TIME_SECONDS)], "ConnectMaxTimeSeconds"
    )
    seconds = int(limit.get((endpoint, NETWORK_COMMISSIONING, CONNECT_MAX_TIME_SECONDS), 0) or 0)
    before, calls.timeout = calls.timeout, max(calls.timeout, seconds + CONNECT_MARGIN_SECONDS)
    try:
        answer = await calls.invoke(
            NETWORK_COMMISSIONING,
            CONNECT_NETWORK,
            {0: network_id(credentials), 1: UInt(breadcrumb)},
            "ConnectNetwork",
            endpoint=endpoint,
        )
    except (TimeoutError, ConnectionError):
        return Joined(answered=False)
    finally:
        calls.timeout = before
    status = int(answer[0]) if answer is not None else Status.UNKNOWN_ERROR
    if status != Status.SUCCESS:
        why = _status_words(status, credentials, answer)
        if status == Status.NETWORK_NOT_FOUND and isinstance(credentials, WifiCredentials):
            why += await _what_it_sees(calls, endpoint, breadcrumb)
        raise NetworkRefused(f"the device could not join {credentials.describe()}: {why}")
    return Joined(answered=True)


async def _what_it_sees(calls: DeviceCalls, endpoint: int, breadcrumb: int) -> str:
    """After "network not found", what the device's own scan finds, so a misspelt SSID shows next
    to the right one. Only then: a scan may cost a single-radio device its BLE link. Best effort."""
    try:
        answer = await calls.invoke(
            NETWORK_COMMISSIONING, SCAN_NETWORKS, {0: None, 1: UInt(breadcrumb)}, "ScanNetworks", endpoint=endpoint
        )
    except Exception:  # the sentence is complete without it
        return ""
    found = []
    for result in (answer or {}).get(2) or []:
        ssid = bytes(result.get(1, b"")).decode("utf-8", "replace")
        rssi = result.get(5)
        found.append(f"{ssid!r}" + (f" ({rssi} dBm)" if rssi is not None else ""))
    return f"; the device's own scan finds {', '.join(found[:8]) if found else 'no network'}"


def _feature_words(feature: NetworkFeature) -> str:
    if feature & NetworkFeature.WIFI:
        return "Wi-Fi"
    if feature & NetworkFeature.THREAD:
        return "Thread"
    return "Ethernet" if feature & NetworkFeature.ETHERNET else "unknown"


def _status_words(status: int, credentials: Credentials, answer) -> str:
    wifi = isinstance(credentials, WifiCredentials)
    debug = f" (the device says: {answer[1]})" if answer is not None and answer.get(1) else ""
    error_value = answer.get(2) if answer is not None else None
    if status == Status.NETWORK_NOT_FOUND:
        words = (
            "it found no such network: check the SSID (letter case counts) and that the access point is in "
            "range on 2.4 GHz"
            if wifi
            else "it heard no such Thread network: is the border router up, on that channel, and is the dataset "
            "its active one?"
        )
    elif status == Status.AUTH_FAILURE:
        words = (
            "authentication failed: the passphrase is wrong, or the access point's security is not one the "
            "device supports"
            if wifi
            else "the network did not accept it: the network key or PSKc is not the network's"
        )
    elif status == Status.UNSUPPORTED_SECURITY:
        words = "the network's security mode is not one the device supports (WPA3-only, or enterprise?)"
    elif status == Status.OUT_OF_RANGE:
        words = "a value was outside what the device accepts (the SSID, passphrase or dataset length)"
    elif status == Status.BOUNDS_EXCEEDED:
        words = "the device has no room for another network: factory-reset it, or remove one first"
    elif status == Status.NETWORK_ID_NOT_FOUND:
        words = "the device does not have this network (its AddOrUpdate did not stick)"
    elif status == Status.REGULATORY_ERROR:
        words = "the device may not use that channel in its regulatory domain"
    elif status in (Status.IPV6_FAILED, Status.IP_BIND_FAILED):
        words = "it joined but could not get an IPv6 address: does the network route IPv6 (a border router, RA)?"
    elif status == Status.OTHER_CONNECTION_FAILURE:
        words = "the connection failed for another reason"
    else:
        words = f"status {status}"
    if wifi and isinstance(error_value, int):
        words += f"; its Wi-Fi stack reports 802.11 code {error_value}" + (
            f", {_WIFI_ERRORS[error_value]}" if error_value in _WIFI_ERRORS else ""
        )
    return words + debug
