"""The values a front end reads and gives beside the events and commands: knobs and their
values, the OTA and BDX enums, how a transfer ended, a history row, a setup code, a device found
by discovery. Re-exported from where each is defined, so a front end imports the API package only
(tests/test_import_graph.py holds the dashboard to it); none of them imports the protocol stack."""

from __future__ import annotations

from ..bdx.outcome import Outcome, TransferEnd, TransferStep
from ..codec.setup_payload import SetupCodeError, SetupPayload
from ..codec.status_report import BdxStatus
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
    "CommissionTarget",
    "CommissionableDevice",
    "DownloadProtocol",
    "HistoryRow",
    "Knob",
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
