"""Awaitable Interaction Model calls on one secure session, for the commissioner's stages.

The IM client is callback-based and sans-IO; this wraps one call in a future with a deadline and
flushes the driver, so a stage reads as ``await device.invoke(...)`` and a silent device is a
``TimeoutError`` naming what it did not answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from ..codec import tlv
from ..codec.im_status import ImStatus
from ..exchange.driver import ExchangeDriver
from ..im.client import ImResult, InteractionClient, settle
from ..im.messages import AttributeData, AttributePath, CommandData, CommandPath, CommandStatus
from ..session.secure import SecureSession

__all__ = ["CallError", "DeviceCalls"]

DEFAULT_TIMEOUT = 30.0  # the SDK commissioner's per-step budget while the fail-safe is armed


class CallError(RuntimeError):
    """An IM call that came back with an error status, or none at all."""


class DeviceCalls:
    def __init__(self, driver: ExchangeDriver, session: SecureSession, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.driver = driver
        self.session = session
        self.timeout = timeout
        self.client = InteractionClient(driver.manager)

    async def _call(self, method: str, what: str, *args: Any, **kwargs: Any) -> ImResult:
        done: asyncio.Future[ImResult] = asyncio.get_running_loop().create_future()
        getattr(self.client, method)(self.session, *args, on_done=settle(done), **kwargs)
        self.driver.flush()
        try:
            result = await asyncio.wait_for(done, self.timeout)
        except TimeoutError:
            raise TimeoutError(f"no answer to {what} within {self.timeout:g} s") from None
        if result.error:
            raise CallError(f"{what}: {result.error}")
        if result.status is not None and result.status != ImStatus.SUCCESS:
            raise CallError(f"{what}: the device answered {_status(result.status)}")
        return result

    async def read(self, paths: Sequence[AttributePath], what: str, *, fabric_filtered: bool = False) -> dict:
        """Attribute values by (endpoint, cluster, attribute); paths the device refused are absent."""
        result = await self._call("read", what, paths, fabric_filtered=fabric_filtered)
        return result.values()

    async def invoke(
        self,
        cluster: int,
        command: int,
        fields: dict[int, Any] | None,
        what: str,
        *,
        endpoint: int = 0,
        timed_ms: int | None = None,
    ) -> Any:
        """The response's fields; a status-only SUCCESS answers None."""
        data = CommandData(CommandPath(endpoint, cluster, command), tlv.Structure(fields or {}))
        result = await self._call("invoke", what, [data], timed_ms=timed_ms)
        if result.invoke is None or not result.invoke.responses:
            raise CallError(f"{what}: the device sent no response")
        response = result.invoke.responses[0]
        if isinstance(response, CommandStatus):
            if response.status.status != ImStatus.SUCCESS:
                raise CallError(f"{what}: the device answered {_status(response.status.status)}")
            return None
        return response.fields

    async def write(self, path: AttributePath, value: Any, what: str, *, timed_ms: int | None = None) -> None:
        result = await self._call("write", what, [AttributeData(path, value)], timed_ms=timed_ms)
        for status in result.write_statuses:
            if status.status.status != ImStatus.SUCCESS:
                raise CallError(f"{what}: the device answered {_status(status.status.status)}")


def _status(code: int) -> str:
    name = ImStatus(code).name if code in ImStatus._value2member_map_ else "status"
    return f"{name.replace('_', ' ').lower()} (0x{code:02X})"
