"""Values in words: the spec's and the SDK app's names, never a Python repr."""

from __future__ import annotations

from ota_provider.core.api.events import RequestorSeen
from ota_provider.core.bdx.outcome import Outcome, TransferEnd
from ota_provider.core.codec.status_report import BdxStatus
from ota_provider.core.node_ids import Peer
from ota_provider.core.ota.types import (
    ApplyUpdateAction,
    DownloadProtocol,
    QueryImageStatus,
    UpdateState,
    UserConsentState,
    update_state,
)
from ota_provider.core.presentation.lines import event_text
from ota_provider.core.presentation.words import (
    bdx_status,
    enum_name,
    node_text,
    short_node_id,
    short_node_ids,
    spec_name,
    transfer_end_text,
    update_state_name,
    who,
    yes_no,
)
from ota_provider.tui.format import peer_name


def test_sdk_flag_names_keep_equal_int_enums_apart():
    # BUSY and AWAIT_NEXT_ACTION are both 1: one table keyed by value alone would mix them up.
    assert enum_name(QueryImageStatus.BUSY) == "busy"
    assert enum_name(ApplyUpdateAction.AWAIT_NEXT_ACTION) == "awaitNextAction"
    assert enum_name(QueryImageStatus.NOT_AVAILABLE) == "updateNotAvailable"  # the SDK's -q value
    assert enum_name(UserConsentState.DEFERRED) == "deferred"  # the SDK's -u value, not "obtaining"


def test_spec_names_from_members_or_the_names_events_carry():
    assert spec_name("UPDATE_AVAILABLE") == spec_name(QueryImageStatus.UPDATE_AVAILABLE) == "UpdateAvailable"
    assert spec_name("AWAIT_NEXT_ACTION") == "AwaitNextAction"
    assert spec_name(DownloadProtocol.BDX_SYNCHRONOUS) == "BDXSynchronous"
    assert spec_name("SOMETHING_NEW") == "SOMETHING_NEW"  # unknown: as it came


def test_bdx_status_codes_in_hex_and_words():
    assert bdx_status(BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR) == "0x001F transfer failed, unknown error"
    assert bdx_status(0x0019) == "0x0019 responder busy"
    assert bdx_status(0x0099) == "0x0099 unknown code"


def test_node_ids_short_and_unambiguous():
    assert short_node_id(0xD002) == "D002" and short_node_id(1) == "0001"
    assert short_node_id(0xFEDCBA9876543210) == "FEDCBA9876543210"
    assert peer_name(Peer(1, 0xD002)) == "D002" and peer_name(Peer(2, 0xD002)) == "D002/2"
    assert who(Peer(1, 0xD002)) == "node 0x000000000000D002 (fabric 1)"
    with short_node_ids():
        assert who(Peer(1, 0xD002)) == "node D002 (fabric 1)" and node_text(1) == "0001"
    assert node_text(1) == "0x0000000000000001"  # only within
    seen = RequestorSeen((1, 0xD002), 0xFFF1, 0x8000, 1)
    assert "node 0x000000000000D002 (fabric 1)" in event_text(seen)
    assert "node D002 (fabric 1)" in event_text(seen, short_ids=True)
    assert yes_no(True) == "yes" and yes_no(False) == "no"


def test_every_transfer_ending_has_its_words():
    """The presentation module says each outcome; the words the log and the history had before
    the outcome became a value are kept."""
    said = {
        TransferEnd(Outcome.COMPLETE): "complete",
        TransferEnd(Outcome.IDLE, block=7, seconds=300.0): "failed: the requestor asked for nothing for 300 s "
        "(after Block 7): it stopped the download or lost its session",
        TransferEnd(Outcome.IDLE, seconds=300.0): "failed: the requestor asked for nothing for 300 s (after no "
        "Block): it stopped the download or lost its session",
        TransferEnd(Outcome.UNACKNOWLEDGED, sends=5): "failed: the ReceiveAccept was sent 5 times and never "
        "acknowledged: the requestor went away (reset, out of range) or the path to it is down",
        TransferEnd(Outcome.PROTOCOL_ERROR, status=0x53): "failed: we sent StatusReport 0x0053 version not supported",
        TransferEnd(Outcome.REQUESTOR_ENDED): "failed: the receiver (requestor) ended it with a malformed StatusReport",
        TransferEnd(Outcome.FAULT_ENDED, status=0x5F, block=3): "failed: ended at block 3 by a fault knob",
        TransferEnd(Outcome.ABORTED, status=0x5F): "failed: aborted by the operator",
        TransferEnd(Outcome.SHUT_DOWN, status=0x5F): "failed: provider shutting down",
        TransferEnd(Outcome.CLOSED, reason="session removed"): "failed: session removed",
    }
    for end, words in said.items():
        assert transfer_end_text(end) == words, end
    assert {end.outcome for end in said} | {Outcome.RUNNING, Outcome.REPLACED, Outcome.NOT_RESUMED} == set(Outcome)


def test_update_states_in_the_specs_words():
    assert update_state_name(UpdateState.DELAYED_ON_USER_CONSENT) == "DelayedOnUserConsent"
    assert update_state_name(update_state(4)) == "Downloading" and update_state(None) is UpdateState.UNKNOWN
    assert update_state_name(update_state(9)) == "state 9"  # a newer device's state is shown, not dropped
