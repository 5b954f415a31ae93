"""``--exit-when-updated``: when a headless run that commissions devices is finished, and how.

Fed the engine's events; says (exit status, one line) once every ``--commission``ed device is
verified on its new version (0), or as soon as one cannot be (1, saying which and why).
"""

from __future__ import annotations

from ..api.events import CommissioningFailed, DeviceCommissioned, DeviceStep, DeviceStepKind, EngineEvent, StepState
from ..node_ids import node_text
from ..presentation.words import plural

__all__ = ["UpdateWatch"]


class UpdateWatch:
    def __init__(self, targets: int) -> None:
        self.targets = targets
        self.commissioned: set[int] = set()
        self.verified: set[int] = set()

    def feed(self, event: EngineEvent) -> tuple[int, str] | None:
        if isinstance(event, CommissioningFailed):
            return 1, f"{event.target} was not commissioned: {event.stage} failed: {event.reason}"
        if isinstance(event, DeviceCommissioned):
            self.commissioned.add(event.node_id)
            return None
        if not isinstance(event, DeviceStep) or event.node_id not in self.commissioned:
            return None
        device = f"device {node_text(event.node_id)}"
        if event.state is StepState.FAILED:
            return 1, f"{device}: {event.step} failed: {event.detail}"
        if event.state is StepState.SKIPPED and (event.step is DeviceStepKind.POINT or event.no_image):
            return 1, f"{device} cannot be updated: {event.detail}"
        if event.step is DeviceStepKind.VERIFIED and event.state is StepState.DONE:
            self.verified.add(event.node_id)
            if len(self.verified) >= self.targets:
                return 0, f"{plural(len(self.verified), 'device')} verified on the new version"
        return None
