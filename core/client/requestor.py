"""An OTA requestor client: CASE to the provider, QueryImage, a BDX download that writes the
image to a file and verifies its digest, ApplyUpdateRequest and NotifyUpdateApplied.

It speaks the same protocol as the SDK's requestor (receiver-drive BDX, one BlockQuery per
block) and reports everything it received, so tests and the simulator can check what a
requestor actually saw rather than what the provider meant to send.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..bdx.messages import BdxError, Block, BlockQuery, ReceiveAccept, TransferControl, TransferInit
from ..bdx.uri import parse_bdx_uri
from ..codec.protocols import BdxOpcode, ProtocolId, SecureChannelOpcode
from ..codec.status_report import StatusReport
from ..exchange.driver import AsyncExchange, ExchangeDriver
from ..fabric.table import Fabric
from ..im.client import InteractionClient, settle
from ..im.messages import CommandData, CommandPath, CommandStatus
from ..node_ids import node_text
from ..ota.commands import (
    APPLY_UPDATE_REQUEST,
    NOTIFY_UPDATE_APPLIED,
    QUERY_IMAGE,
    ApplyUpdateRequest,
    ApplyUpdateResponse,
    NotifyUpdateApplied,
    QueryImage,
    QueryImageResponse,
)
from ..ota.image import ImageError, ImageInfo, verify_image
from ..ota.types import DownloadProtocol
from ..securechannel.connect import establish_case
from ..session.secure import SecureSession

__all__ = ["CommandFailed", "DownloadError", "DownloadResult", "OtaRequestorClient"]

OTA_PROVIDER_CLUSTER = 0x0029
PROVIDER_ENDPOINT = 0


class CommandFailed(Exception):
    """The provider answered a command with an IM status instead of a response."""

    def __init__(self, command: str, status: int) -> None:
        super().__init__(f"{command}: IM status 0x{status:02X}")
        self.status = status


class DownloadError(Exception):
    def __init__(self, message: str, status_report: StatusReport | None = None) -> None:
        super().__init__(message)
        self.status_report = status_report


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    size: int
    blocks: int
    block_size: int
    seconds: float
    info: ImageInfo  # the header of the received image, whose payload digest was verified

    @property
    def rate(self) -> float:
        return self.size / self.seconds if self.seconds > 0 else float("inf")


class OtaRequestorClient:
    """One requestor node on ``fabric`` talking to the provider at ``address``."""

    def __init__(self, driver: ExchangeDriver, fabric: Fabric, provider_node_id: int, address: tuple) -> None:
        self.driver = driver
        self.fabric = fabric
        self.provider_node_id = provider_node_id
        self.address = address
        self.im = InteractionClient(driver.manager)
        self.session: SecureSession | None = None

    async def connect(self, timeout: float = 10.0) -> SecureSession:
        self.session = await establish_case(
            self.driver, self.fabric, self.provider_node_id, self.address, timeout=timeout
        )
        return self.session

    # ------------------------------------------------------------------ commands

    async def _invoke(self, name: str, command_id: int, fields, timeout: float):
        assert self.session is not None, "connect() first"
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        path = CommandPath(PROVIDER_ENDPOINT, OTA_PROVIDER_CLUSTER, command_id)
        self.im.invoke(self.session, [CommandData(path, fields)], on_done=settle(done))
        self.driver.flush()
        result = await asyncio.wait_for(done, timeout)
        if result.error:
            raise ConnectionError(f"{name}: {result.error}")
        if result.status is not None:
            raise CommandFailed(name, result.status)
        if result.invoke is None or not result.invoke.responses:
            raise ConnectionError(f"{name}: empty InvokeResponse")
        response = result.invoke.responses[0]
        if isinstance(response, CommandStatus):
            if response.status.status == 0:
                return None
            raise CommandFailed(name, response.status.status)
        return response.fields

    async def query_image(
        self,
        vendor_id: int,
        product_id: int,
        software_version: int,
        *,
        protocols: tuple[DownloadProtocol, ...] = (DownloadProtocol.BDX_SYNCHRONOUS,),
        hardware_version: int | None = None,
        location: str | None = "XX",
        requestor_can_consent: bool | None = True,
        timeout: float = 10.0,
    ) -> QueryImageResponse:
        request = QueryImage(
            vendor_id, product_id, software_version, protocols, hardware_version, location, requestor_can_consent
        )
        fields = await self._invoke("QueryImage", QUERY_IMAGE, request.to_tlv(), timeout)
        return QueryImageResponse.from_tlv(fields)

    async def apply_update(self, token: bytes, new_version: int, timeout: float = 10.0) -> ApplyUpdateResponse:
        fields = await self._invoke(
            "ApplyUpdateRequest", APPLY_UPDATE_REQUEST, ApplyUpdateRequest(token, new_version).to_tlv(), timeout
        )
        return ApplyUpdateResponse.from_tlv(fields)

    async def notify_update_applied(self, token: bytes, version: int, timeout: float = 10.0) -> None:
        await self._invoke(
            "NotifyUpdateApplied", NOTIFY_UPDATE_APPLIED, NotifyUpdateApplied(token, version).to_tlv(), timeout
        )

    # ------------------------------------------------------------------ BDX

    async def download(
        self,
        image_uri: str,
        destination: Path,
        *,
        max_block_size: int = 1024,
        block_timeout: float = 30.0,
        stop_after_blocks: int | None = None,
        on_block: Callable[[int, int], None] | None = None,
        asynchronous: bool = False,
        block_interval: float = 0.0,
    ) -> DownloadResult:
        """Receiver-drive download of ``image_uri`` into ``destination``; verifies the image digest.

        ``stop_after_blocks`` abandons the transfer silently after that many blocks, as a
        requestor that crashes or loses power would (for testing the provider's idle release).
        ``block_interval`` waits that long before each BlockQuery, as a slow requestor would.
        """
        assert self.session is not None, "connect() first"
        node_id, designator = parse_bdx_uri(image_uri)
        if node_id != self.provider_node_id:
            raise DownloadError(f"ImageURI names node {node_text(node_id)}, not the provider")
        exchange = AsyncExchange(self.driver, self.session, ProtocolId.BDX)
        started = time.monotonic()
        mode = TransferControl.ASYNC | TransferControl.SENDER_DRIVE if asynchronous else TransferControl.RECEIVER_DRIVE
        init = TransferInit(mode, max_block_size, designator)
        try:
            reply = await exchange.request(BdxOpcode.RECEIVE_INIT, init.encode(), block_timeout)
            accept = ReceiveAccept.decode(_expect(reply, BdxOpcode.RECEIVE_ACCEPT))
            size = blocks = counter = 0
            with destination.open("wb") as out:
                while True:
                    if stop_after_blocks is not None and blocks >= stop_after_blocks:
                        # Vanish without a word, as a requestor that loses power would.
                        raise DownloadError(f"stopped after {blocks} blocks, as asked")
                    if accept.control & TransferControl.ASYNC:  # the provider pushes; no queries
                        reply = await exchange.receive(block_timeout)
                    else:
                        if block_interval and blocks:
                            await asyncio.sleep(block_interval)
                        reply = await exchange.request(
                            BdxOpcode.BLOCK_QUERY, BlockQuery(counter).encode(), block_timeout
                        )
                    block = Block.decode(_expect(reply, BdxOpcode.BLOCK, BdxOpcode.BLOCK_EOF))
                    if block.counter != counter:
                        raise DownloadError(f"block {block.counter} where {counter} was expected")
                    out.write(block.data)
                    size += len(block.data)
                    blocks += 1
                    if on_block:
                        on_block(blocks, size)
                    if reply.opcode == BdxOpcode.BLOCK_EOF:
                        exchange.send(BdxOpcode.BLOCK_ACK_EOF, BlockQuery(counter).encode())
                        break
                    if accept.control & TransferControl.ASYNC and exchange.exchange.retransmit is None:
                        exchange.send(BdxOpcode.BLOCK_ACK, BlockQuery(counter).encode())  # acks at once
                    counter = (counter + 1) & 0xFFFF_FFFF
        except BdxError as exc:
            raise DownloadError(f"malformed BDX message from the provider: {exc}") from None
        exchange.close()
        seconds = time.monotonic() - started
        if accept.length and size != accept.length:
            raise DownloadError(f"received {size} bytes, ReceiveAccept announced {accept.length}")
        try:
            verified = verify_image(destination)
        except ImageError as exc:
            raise DownloadError(f"the received image does not verify: {exc}") from None
        return DownloadResult(destination, size, blocks, accept.max_block_size, seconds, verified.info)


def _expect(message, *opcodes: int):
    if message.protocol_id == ProtocolId.SECURE_CHANNEL and message.opcode == SecureChannelOpcode.STATUS_REPORT:
        try:
            report = StatusReport.decode(message.payload)
        except ValueError:
            raise DownloadError("the provider ended the transfer with a malformed StatusReport") from None
        raise DownloadError(f"the provider ended the transfer: {report.describe()}", report)
    if message.protocol_id != ProtocolId.BDX or message.opcode not in opcodes:
        raise DownloadError(f"unexpected message 0x{message.protocol_id:04X}/0x{message.opcode:02X}")
    return message.payload
