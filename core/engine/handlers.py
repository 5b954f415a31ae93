"""What each command does, one handler per command type, found in a table by the command's type.
Every command of the API has one (tests/test_engine_handlers.py holds the table to the union);
each answers a :class:`Answer` that becomes the command's ``CommandDone``. A handler raising
ValueError is refused in those words.

The handlers reach the engine through :class:`EngineParts`, not the engine class: what they may
touch is named here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from ..api.commands import (
    AbortTransfer,
    AnswerAttestation,
    ArmKnob,
    ArmKnobs,
    BrowseCommissionable,
    ClearKnobs,
    Command,
    CommissionDevice,
    DeviceAction,
    DisarmKnob,
    OpenCommissioningWindow,
    PauseTransfer,
    QueryAppPipe,
    ReloadImages,
    RemoveFabric,
    ResumeTransfer,
    StartTrace,
    StopTrace,
    ThrottleTransfer,
)
from ..bdx.server import BdxServer
from ..commissioner.bench import Bench
from ..node import MatterNode
from ..node_ids import node_text
from ..ota.policy import Knob, Peer
from ..ota.provider import OtaProvider
from ..presentation.knobs import KNOB_LABELS, armed_text
from ..presentation.words import bdx_status, plural
from ..setup_target import parse_target

__all__ = ["HANDLERS", "Answer", "EngineParts", "apply_command"]


class Answer(NamedTuple):
    ok: bool
    message: str  # what was done, or why not, in words


class EngineParts(Protocol):
    """What the handlers use of the engine."""

    node: MatterNode | None
    provider: OtaProvider | None
    bdx: BdxServer | None
    bench: Bench | None

    def knows(self, peer: Peer) -> bool: ...

    def unseen_target(self, peer: Peer) -> str: ...

    def report_app_pipe(self, command_id: str, query: str) -> None: ...

    def start_trace(self, name: str) -> str: ...

    def stop_trace(self) -> str: ...


def _parts(engine: EngineParts) -> tuple[MatterNode, OtaProvider]:
    node, provider = engine.node, engine.provider
    assert node is not None and provider is not None
    return node, provider


def _bench(engine: EngineParts) -> Bench:
    assert engine.bench is not None
    return engine.bench


def _check_arm(engine: EngineParts, command: ArmKnob | ArmKnobs, knobs: list[tuple[Knob, Any]]) -> None:
    """Refused now, not met by the next query as a silent NotAvailable."""
    _, provider = _parts(engine)
    if command.target is not None and not command.unseen and not engine.knows(command.target):
        raise ValueError(engine.unseen_target(command.target))
    for knob, value in knobs:
        if knob == Knob.FORCED_DESIGNATOR and provider.entry_for_designator(str(value)) is None:
            served = ", ".join(e.designator for e in provider.entries()) or "none"
            raise ValueError(f"no image {value!r} to force: the images served are {served}")


def _arm(engine: EngineParts, command: ArmKnob) -> Answer:
    _check_arm(engine, command, [(command.knob, command.value)])
    armed = _parts(engine)[1].policy.arm(command.knob, command.value, sticky=command.sticky, target=command.target)
    return Answer(True, f"armed {armed_text(armed)}")


def _arm_all(engine: EngineParts, command: ArmKnobs) -> Answer:
    _check_arm(engine, command, list(command.knobs))
    armed = _parts(engine)[1].policy.arm_all(list(command.knobs), sticky=command.sticky, target=command.target)
    return Answer(True, "armed " + "; ".join(armed_text(a) for a in armed))


def _disarm(engine: EngineParts, command: DisarmKnob) -> Answer:
    if not _parts(engine)[1].policy.disarm(command.knob, target=command.target):
        return Answer(True, f"{KNOB_LABELS[command.knob]} was not armed: nothing to disarm")
    return Answer(True, f"disarmed {KNOB_LABELS[command.knob]}")


def _clear(engine: EngineParts, command: ClearKnobs) -> Answer:
    _parts(engine)[1].policy.clear()
    return Answer(True, "every knob disarmed")


def _on_transfer(done: bool, transfer_id: int, what: str) -> Answer:
    if not done:
        return Answer(False, f"no running transfer #{transfer_id}")
    return Answer(True, f"transfer #{transfer_id} {what}")


def _bdx(engine: EngineParts) -> BdxServer:
    assert engine.bdx is not None
    return engine.bdx


def _pause(engine: EngineParts, command: PauseTransfer) -> Answer:
    return _on_transfer(_bdx(engine).pause(command.transfer_id), command.transfer_id, "paused")


def _resume(engine: EngineParts, command: ResumeTransfer) -> Answer:
    return _on_transfer(_bdx(engine).resume(command.transfer_id), command.transfer_id, "resumed")


def _throttle(engine: EngineParts, command: ThrottleTransfer) -> Answer:
    seconds = command.seconds_per_block
    what = f"throttled to one block per {seconds:g} s" if seconds else "unthrottled"
    return _on_transfer(_bdx(engine).throttle(command.transfer_id, seconds), command.transfer_id, what)


def _abort(engine: EngineParts, command: AbortTransfer) -> Answer:
    done = _bdx(engine).abort(command.transfer_id, command.status)
    return _on_transfer(done, command.transfer_id, f"aborted with StatusReport {bdx_status(command.status)}")


def _commission(engine: EngineParts, command: CommissionDevice) -> Answer:
    target = parse_target(command.target)  # ValueError: one line saying what is wrong with the code
    bench = _bench(engine)
    if command.ble:
        # ValueError: a device not heard, or a network not kept, in one line
        bench.start_over_ble(target, command.ble, command.network, ask=command.ask)
        return Answer(True, f"commissioning {command.target} over BLE {command.ble}: started")
    bench.start(target, ask=command.ask)
    return Answer(True, f"commissioning {command.target}: started")


def _device_action(engine: EngineParts, command: DeviceAction) -> Answer:
    _bench(engine).act(command.node_id, command.action)  # ValueError: not a device of the bench
    return Answer(True, f"device {node_text(command.node_id)}: {command.action.value} started")


def _browse(engine: EngineParts, command: BrowseCommissionable) -> Answer:
    _bench(engine).browse(command.active)
    return Answer(True, "browsing for commissionable devices" if command.active else "browsing stopped")


def _answer_attestation(engine: EngineParts, command: AnswerAttestation) -> Answer:
    if not _bench(engine).answer(command.target, command.accept):
        return Answer(False, f"no attestation question is open for {command.target}")
    return Answer(True, f"{'accepted' if command.accept else 'refused'} the attestation of {command.target}")


def _open_window(engine: EngineParts, command: OpenCommissioningWindow) -> Answer:
    window = _parts(engine)[0].windows.open_commissioning_window(command.seconds)
    return Answer(True, f"commissioning window open for {command.seconds} s (discriminator {window.discriminator})")


def _remove_fabric(engine: EngineParts, command: RemoveFabric) -> Answer:
    node, _ = _parts(engine)
    if node.fabrics.get(command.fabric_index) is None:
        return Answer(False, f"no fabric {command.fabric_index}")
    node.admin.remove_fabric(command.fabric_index)
    return Answer(True, f"fabric {command.fabric_index} removed")


def _start_trace(engine: EngineParts, command: StartTrace) -> Answer:
    return Answer(True, engine.start_trace(command.path))


def _stop_trace(engine: EngineParts, command: StopTrace) -> Answer:
    return Answer(True, engine.stop_trace())


def _reload(engine: EngineParts, command: ReloadImages) -> Answer:
    provider = _parts(engine)[1]
    provider.catalog = provider.catalog.reload()
    return Answer(True, f"{plural(len(provider.catalog.entries), 'image')} loaded")


def _query_app_pipe(engine: EngineParts, command: QueryAppPipe) -> Answer:
    engine.report_app_pipe(command.id, command.name)
    return Answer(True, f"{command.name} reported")


# QueryHistory is not here: it reads the database off the engine's loop (see ProviderEngine._execute).
HANDLERS: dict[type[Command], Callable[[EngineParts, Any], Answer]] = {
    ArmKnob: _arm,
    ArmKnobs: _arm_all,
    DisarmKnob: _disarm,
    ClearKnobs: _clear,
    PauseTransfer: _pause,
    ResumeTransfer: _resume,
    ThrottleTransfer: _throttle,
    AbortTransfer: _abort,
    CommissionDevice: _commission,
    DeviceAction: _device_action,
    BrowseCommissionable: _browse,
    AnswerAttestation: _answer_attestation,
    OpenCommissioningWindow: _open_window,
    RemoveFabric: _remove_fabric,
    StartTrace: _start_trace,
    StopTrace: _stop_trace,
    ReloadImages: _reload,
    QueryAppPipe: _query_app_pipe,
}


def apply_command(engine: EngineParts, command: Command) -> Answer:
    handler = HANDLERS.get(type(command))
    if handler is None:
        return Answer(False, f"unknown command {type(command).__name__}")
    return handler(engine, command)
