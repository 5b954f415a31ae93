"""The values a front end reads and gives beside the events and commands: knobs and their
values, the OTA and BDX enums, how a transfer ended, a history row, a setup code, a device found
by discovery (DNS-SD or BLE), a kept network (these two defined here: they are only what a front end is shown).
Re-exported from where each is defined, so a front end imports the API package only
(tests/test_import_graph.py holds the dashboard to it); none of them imports the protocol stack."""

from __future__ import annotations

from dataclasses import dataclass

from ..bdx.outcome import Outcome, TransferEnd, TransferStep
from ..codec.setup_payload import SetupCodeError, SetupPayload
from ..codec.status_report import BdxStatus
from ..dcl.events import DownloadState
from ..dnssd.devices import CommissionableDevice
from ..ota.history import HistoryRow, iso_time, rows_as_csv
from ..ota.knob_names import knob_by_name, parse_knob, wire_name
from ..ota.policy import ArmedKnob, Knob, Peer
from ..ota.types import ApplyUpdateAction, DownloadProtocol, QueryImageStatus, UpdateState, UserConsentState
from ..setup_target import CommissionTarget, parse_target, where_text

__all__ = [
    "ApplyUpdateAction",
    "ArmedKnob",
    "BdxStatus",
    "BleCommissionable",
    "CommissionTarget",
    "CommissionableDevice",
    "DownloadProtocol",
    "DownloadState",
    "HistoryRow",
    "Knob",
    "NetworkChoice",
    "Outcome",
    "Peer",
    "QueryImageStatus",
    "SetupCodeError",
    "SetupPayload",
    "TransferEnd",
    "TransferStep",
    "UpdateState",
    "UserConsentState",
    "iso_time",
    "knob_by_name",
    "parse_knob",
    "parse_target",
    "rows_as_csv",
    "where_text",
    "wire_name",
]


@dataclass(frozen=True)
class NetworkChoice:
    """A kept network as a front end offers it: its name and what it is, never its secret."""

    name: str
    description: str


@dataclass(frozen=True)
class BleCommissionable:
    """A commissionable device heard over BLE, as a front end lists it (no link, no radio behind it)."""

    address: str
    name: str
    rssi: int | None
    discriminator: int
    vendor_id: int  # 0: not advertised
    product_id: int
