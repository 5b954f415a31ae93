"""Every engine event in words: the log line, the headless output's text and the history's summary.

Events are values; nothing in the core makes their sentences, and nothing reads one back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..api.events import (
    AppPipeAnswered,
    AttestationQuestion,
    BleCommissionableDevices,
    CommandDone,
    CommissionableDevices,
    CommissioningFailed,
    CommissioningRolledBack,
    CommissioningStage,
    DemoFabricJoined,
    DeviceCommissioned,
    DeviceEvent,
    DeviceMismatch,
    DeviceState,
    DeviceStep,
    EngineSnapshot,
    FabricsChanged,
    HistoryRows,
    Listening,
    RequestorSeen,
    SessionEstablished,
    Stopped,
    TransferEvent,
)
from ..dcl.events import (
    LedgerImageDownloading,
    LedgerImageReady,
    LedgerImageRefused,
    LedgerLookedUp,
    LedgerReachable,
    LedgerRootsLoaded,
    LedgerUnreachable,
)
from ..event_base import EngineError, EngineEvent
from ..ota.events import (
    ApplyUpdateAnswered,
    ApplyUpdateIgnored,
    ApplyUpdateReceived,
    ApplyUpdateRefused,
    FaultInjected,
    ImagesChanged,
    NotifyUpdateRefused,
    OtaEvent,
    QueryImageAnswered,
    QueryImageIgnored,
    QueryImageReceived,
    UpdateAppliedNotified,
)
from ..ota.policy import ArmedKnob
from ..ota.types import QueryImageStatus
from .knobs import armed_text
from .ledger import (
    image_downloading_text,
    image_ready_text,
    image_refused_text,
    looked_up_text,
    reachable_text,
    roots_text,
    unreachable_text,
)
from .transfer_lines import transfer_fields, transfer_text
from .words import ble_device_words, node_text, plural, short_node_ids, spec_name, update_state_name, who, yes_no


def _armed(event: OtaEvent) -> str:
    used: tuple[ArmedKnob, ...] = getattr(event, "used", ())
    return f"  [armed: {'; '.join(map(armed_text, used))}]" if used else ""


def _reason(event: QueryImageAnswered) -> str:
    """Why it answered so: in the event, or (when the armed knobs decided) the knobs it used."""
    return event.reason or ("armed: " + ", ".join(map(armed_text, event.used)) if event.used else "")


def _engine_event(event: EngineEvent) -> str:
    return event.name


def _engine_error(event: EngineError) -> str:
    return f"error: {event.message}"


def _requestor_seen(event: RequestorSeen) -> str:
    return (
        f"new requestor: node {node_text(event.peer.node_id)} (fabric {event.peer.fabric_index}), "
        f"VID 0x{event.vendor_id:04X} PID 0x{event.product_id:04X}, version {event.software_version}"
    )


def _engine_snapshot(event: EngineSnapshot) -> str:
    return (
        f"{plural(len(event.transfers), 'transfer')} running, {event.bytes_sent_total} bytes sent, "
        f"{event.transfers_finished} finished, {event.transfers_failed} failed, "
        f"{len(event.armed)} armed"
    )


def _app_pipe(event: AppPipeAnswered) -> str:
    said = f"error: {event.error}" if event.error else "answered"
    return f"app pipe: {event.request} {said}"


def _history_rows(event: HistoryRows) -> str:
    return f"{plural(len(event.rows), 'history row')}"


def _listening(event: Listening) -> str:
    dnssd = "advertised over DNS-SD" if event.advertising else "DNS-SD off"
    control = f"; control socket {event.control}" if event.control else ""
    return f"listening on UDP port {event.port} ({dnssd}); state in {event.storage}{control}"


def _session_established(event: SessionEstablished) -> str:
    return f"session established: {event.auth} with node {node_text(event.peer_node_id)} (fabric {event.fabric_index})"


def _fabrics_changed(event: FabricsChanged) -> str:
    listed = ", ".join(
        f"#{f.index} node {node_text(f.node_id)}" + (f" ({f.label})" if f.label else "") for f in event.fabrics
    )
    return "fabrics: " + (listed or "none") + (" (commissioning window open)" if event.window_open else "")


def _commissioning_rolled_back(event: CommissioningRolledBack) -> str:
    if event.change == "added":
        return (
            f"fabric {event.fabric_index}, added by a commissioning the last run never completed, "
            "was removed (commission it again)"
        )
    return f"fabric {event.fabric_index} got back its credentials from before an UpdateNOC that never completed"


def _demo_fabric_joined(event: DemoFabricJoined) -> str:
    return (
        f"demo fabric: provider is node {node_text(event.node_id)} (fabric {event.fabric_index}); "
        f"requestors: ota-requestor-sim --fabric {event.file}"
    )


def _command_done(event: CommandDone) -> str:
    return event.message if event.ok else f"refused: {event.message}"


def _stopped(event: Stopped) -> str:
    return "stopped"


def _commissioning_stage(event: CommissioningStage) -> str:
    timing = f" in {event.seconds:.2f} s" if event.state != "started" else ""
    return f"commissioning {event.target}: {event.stage}: {event.state}{timing}" + (
        f" ({event.detail})" if event.detail else ""
    )


def _device_commissioned(event: DeviceCommissioned) -> str:
    return (
        f"commissioned {event.target} as node {node_text(event.node_id)} on the bench fabric: VID "
        f"0x{event.vendor_id:04X} PID 0x{event.product_id:04X}, {event.attestation}"
    )


def _commissioning_failed(event: CommissioningFailed) -> str:
    return f"commissioning {event.target} failed at {event.stage}: {event.reason}"


def _device_step(event: DeviceStep) -> str:
    return f"device {node_text(event.node_id)}: {event.step}: {event.state}" + (
        f" ({event.detail})" if event.detail else ""
    )


def _attestation_question(event: AttestationQuestion) -> str:
    return f"commissioning {event.target}: {event.verdict}; waiting for the user to accept or refuse"


def _commissionable_devices(event: CommissionableDevices) -> str:
    if not event.devices:
        return "no commissionable device found (yet)"
    return f"{plural(len(event.devices), 'commissionable device')}: " + "; ".join(d.describe() for d in event.devices)


def _ble_devices(event: BleCommissionableDevices) -> str:
    if event.problem:
        return f"no BLE list: {event.problem}"
    if not event.devices:
        return "no commissionable device heard over BLE (yet)"
    heard = "; ".join(ble_device_words(d) for d in event.devices)
    return f"{plural(len(event.devices), 'commissionable device')} over BLE: {heard}"


def _device_state(event: DeviceState) -> str:
    progress = f", UpdateStateProgress {event.progress}%" if event.progress is not None else ""
    version = f", SoftwareVersion {event.software_version}" if event.software_version is not None else ""
    state = update_state_name(event.update_state)
    return f"device {node_text(event.node_id)} reports UpdateState {state}{progress}{version}"


def _device_mismatch(event: DeviceMismatch) -> str:
    return (
        f"device {node_text(event.node_id)} says Downloading, but no BDX transfer of ours has run for it for "
        f"{event.seconds:g} s: {event.advice}"
    )


def _device_event(event: DeviceEvent) -> str:
    ours = f"; {event.ours}" if event.ours else ""
    return f"device {node_text(event.node_id)} event {event.event}: {event.detail}{ours}"


def _query_image_received(event: QueryImageReceived) -> str:
    hardware = f" hw {event.hardware_version}" if event.hardware_version is not None else ""
    return (
        f"{who(event.peer)}: QueryImage VID 0x{event.vendor_id:04X} PID 0x{event.product_id:04X} version "
        f"{event.software_version}{hardware}, protocols {', '.join(map(spec_name, event.protocols_supported))}, "
        f"can consent: {yes_no(bool(event.requestor_can_consent))}"
    )


def _query_image_answered(event: QueryImageAnswered) -> str:
    if event.status == QueryImageStatus.UPDATE_AVAILABLE:
        detail = f"version {event.software_version} ({event.software_version_string}) at {event.image_uri}"
    elif event.status == QueryImageStatus.BUSY:
        detail = f"retry in {event.delayed_action_time} s" + (f" ({event.reason})" if event.reason else "")
    else:
        detail = _reason(event)
    consent = ", user consent needed" if event.user_consent_needed else ""
    return f"{who(event.peer)}: -> {spec_name(event.status)}: {detail}{consent}{_armed(event)}"


def _query_image_ignored(event: QueryImageIgnored) -> str:
    return f"{who(event.peer)}: QueryImage left unanswered{_armed(event)}"


def _apply_update_received(event: ApplyUpdateReceived) -> str:
    return f"{who(event.peer)}: ApplyUpdateRequest for version {event.new_version}"


def _apply_update_answered(event: ApplyUpdateAnswered) -> str:
    return f"{who(event.peer)}: -> {spec_name(event.action)}, delay {event.delayed_action_time} s{_armed(event)}"


def _apply_update_ignored(event: ApplyUpdateIgnored) -> str:
    return f"{who(event.peer)}: ApplyUpdateRequest left unanswered{_armed(event)}"


def _apply_update_refused(event: ApplyUpdateRefused) -> str:
    return f"{who(event.peer)}: ApplyUpdateRequest refused: {event.reason}"


def _notify_update_applied(event: UpdateAppliedNotified) -> str:
    promise = "" if event.as_promised else f" (offered version {event.promised_version})"
    return f"{who(event.peer)}: NotifyUpdateApplied: now running version {event.software_version}{promise}"


def _notify_update_refused(event: NotifyUpdateRefused) -> str:
    return f"{who(event.peer)}: NotifyUpdateApplied refused: {event.reason}"


def _fault_injected(event: FaultInjected) -> str:
    return f"{who(event.peer)}: BDX transfer #{event.transfer} block {event.block}: fault injected{_armed(event)}"


def _images_changed(event: ImagesChanged) -> str:
    return f"images reloaded from {event.source}: {plural(event.count, 'image')}"


def _query_image_answered_summary(event: QueryImageAnswered) -> str:
    version = f" v{event.software_version}" if event.software_version else ""
    return spec_name(event.status) + version


def _apply_update_answered_summary(event: ApplyUpdateAnswered) -> str:
    return f"{spec_name(event.action)} delay {event.delayed_action_time} s"


def _notify_update_applied_summary(event: UpdateAppliedNotified) -> str:
    return f"now on version {event.software_version}"


_TEXTS: dict[type, Callable[[Any], str]] = {
    EngineEvent: _engine_event,
    EngineError: _engine_error,
    RequestorSeen: _requestor_seen,
    EngineSnapshot: _engine_snapshot,
    HistoryRows: _history_rows,
    AppPipeAnswered: _app_pipe,
    TransferEvent: transfer_text,
    Listening: _listening,
    SessionEstablished: _session_established,
    FabricsChanged: _fabrics_changed,
    CommissioningRolledBack: _commissioning_rolled_back,
    DemoFabricJoined: _demo_fabric_joined,
    CommandDone: _command_done,
    Stopped: _stopped,
    CommissioningStage: _commissioning_stage,
    DeviceCommissioned: _device_commissioned,
    CommissioningFailed: _commissioning_failed,
    DeviceStep: _device_step,
    AttestationQuestion: _attestation_question,
    CommissionableDevices: _commissionable_devices,
    BleCommissionableDevices: _ble_devices,
    DeviceState: _device_state,
    DeviceMismatch: _device_mismatch,
    DeviceEvent: _device_event,
    QueryImageReceived: _query_image_received,
    QueryImageAnswered: _query_image_answered,
    QueryImageIgnored: _query_image_ignored,
    ApplyUpdateReceived: _apply_update_received,
    ApplyUpdateAnswered: _apply_update_answered,
    ApplyUpdateIgnored: _apply_update_ignored,
    ApplyUpdateRefused: _apply_update_refused,
    UpdateAppliedNotified: _notify_update_applied,
    NotifyUpdateRefused: _notify_update_refused,
    FaultInjected: _fault_injected,
    ImagesChanged: _images_changed,
    LedgerUnreachable: unreachable_text,
    LedgerReachable: reachable_text,
    LedgerRootsLoaded: roots_text,
    LedgerLookedUp: looked_up_text,
    LedgerImageDownloading: image_downloading_text,
    LedgerImageReady: image_ready_text,
    LedgerImageRefused: image_refused_text,
}
_SUMMARIES: dict[type, Callable[[Any], str]] = {
    QueryImageAnswered: _query_image_answered_summary,
    ApplyUpdateAnswered: _apply_update_answered_summary,
    UpdateAppliedNotified: _notify_update_applied_summary,
}


def event_text(event: EngineEvent, *, short_ids: bool = False) -> str:
    """The event's line: the most specific words registered for its class or a base of it.
    ``short_ids``: node ids as a screen shows them (``D002``), not in their full 16 digits."""
    if short_ids:
        with short_node_ids():
            return event_text(event)
    for cls in type(event).__mro__:
        if (words := _TEXTS.get(cls)) is not None:
            return words(event)
    return event.name


def history_summary(event: EngineEvent) -> str:
    """The short summary a history row shows for ``event`` (its name when it has none of its own)."""
    words = _SUMMARIES.get(type(event))
    return words(event) if words is not None else event.name


def event_fields(event: EngineEvent) -> dict[str, Any]:
    """The event's fields for a JSON line: a transfer's with its ending in words as well, armed
    knobs in words."""
    if isinstance(event, TransferEvent):
        return transfer_fields(event)
    fields = event.fields()
    if isinstance(event, QueryImageAnswered):
        fields["reason"] = _reason(event)
    if "used" in fields:
        fields["used"] = [armed_text(armed) for armed in getattr(event, "used", ())]
    if isinstance(event, EngineSnapshot):
        fields["armed"] = [armed_text(armed) for armed in event.armed]
    if isinstance(event, DeviceState):
        fields["updateState"] = update_state_name(event.update_state)
    return fields
