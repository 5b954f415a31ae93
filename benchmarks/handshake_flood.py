#!/usr/bin/env python3
"""Handshakes from a peer with no credentials, as a flood: Sigma1s with random destination ids and
PBKDFParamRequests, each from a new ephemeral node id, asking for the largest retransmission
intervals the session-parameter struct can carry; never answered, never acknowledged.

Used by ``bench_flood.py`` and the flood tests. As a program it sends to loopback only:
``handshake_flood.py PORT --sigma1-rate N --pbkdf-rate N --seconds S [--source 127.0.0.2]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ota_provider.core.codec.message import MessageHeader, PayloadHeader  # noqa: E402
from ota_provider.core.codec.protocols import ProtocolId, SecureChannelOpcode  # noqa: E402
from ota_provider.core.securechannel.messages import (  # noqa: E402
    PbkdfParamRequest,
    SessionParameterStruct,
    Sigma1,
)

NEVER = 0xFFFF_FFFF  # ms: the largest interval the struct can carry (54 days)
GREEDY = SessionParameterStruct(idle_interval=NEVER, active_interval=NEVER, active_threshold=0xFFFF)


def datagram(
    ephemeral: int, opcode: int, payload: bytes, *, counter: int = 1, exchange_id: int = 1, ack: int | None = None
) -> bytes:
    """An unsecured message from the initiator ``ephemeral``."""
    header = MessageHeader(message_counter=counter, source_node_id=ephemeral).encode()
    protocol = PayloadHeader(
        exchange_id=exchange_id,
        protocol_id=ProtocolId.SECURE_CHANNEL,
        opcode=opcode,
        initiator=True,
        needs_ack=opcode != SecureChannelOpcode.STANDALONE_ACK,
        ack_counter=ack,
    )
    return header + protocol.encode() + payload


def sigma1(ephemeral: int) -> bytes:
    message = Sigma1(
        initiator_random=os.urandom(32),
        initiator_session_id=1 + ephemeral % 60000,
        destination_id=os.urandom(32),
        initiator_eph_pub_key=b"\x04" + os.urandom(64),
        initiator_session_params=GREEDY,
    )
    return datagram(ephemeral, SecureChannelOpcode.CASE_SIGMA1, message.encode())


def pbkdf_request(ephemeral: int) -> bytes:
    message = PbkdfParamRequest(
        initiator_random=os.urandom(32),
        initiator_session_id=1 + ephemeral % 60000,
        passcode_id=0,
        has_pbkdf_parameters=False,
        initiator_session_params=GREEDY,
    )
    return datagram(ephemeral, SecureChannelOpcode.PBKDF_PARAM_REQUEST, message.encode())


def flood(
    port: int,
    *,
    sigma1_rate: float,
    pbkdf_rate: float,
    seconds: float,
    source: str = "127.0.0.2",
    target: str = "127.0.0.1",
) -> int:
    """Send at the given rates (per second) for ``seconds``; returns how many were sent."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    sock.setblocking(False)
    started = time.monotonic()
    sent = {"sigma1": 0, "pbkdf": 0}
    ephemeral = int.from_bytes(os.urandom(6), "big")
    while (elapsed := time.monotonic() - started) < seconds:
        for kind, rate, make in (("sigma1", sigma1_rate, sigma1), ("pbkdf", pbkdf_rate, pbkdf_request)):
            while sent[kind] < rate * elapsed:
                ephemeral += 1
                with contextlib.suppress(BlockingIOError):  # the socket's buffer is full: that one is lost
                    sock.sendto(make(ephemeral), (target, port))
                sent[kind] += 1
        time.sleep(0.002)
    sock.close()
    return sent["sigma1"] + sent["pbkdf"]


class FloodProcess:
    """The flood in a process of its own, so its CPU is not the measuring process's."""

    def __init__(
        self, port: int, *, sigma1_rate: float, pbkdf_rate: float, seconds: float, source: str = "127.0.0.2"
    ) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                str(port),
                "--sigma1-rate",
                str(sigma1_rate),
                "--pbkdf-rate",
                str(pbkdf_rate),
                "--seconds",
                str(seconds),
                "--source",
                source,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )

    def wait(self) -> int:
        out, _ = self.proc.communicate(timeout=600)
        return int(out.strip() or 0)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--sigma1-rate", type=float, default=1000)
    parser.add_argument("--pbkdf-rate", type=float, default=0)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--source", default="127.0.0.2")
    args = parser.parse_args()
    if not args.source.startswith("127."):
        parser.error("the flood goes from and to loopback only")
    print(
        flood(
            args.port,
            sigma1_rate=args.sigma1_rate,
            pbkdf_rate=args.pbkdf_rate,
            seconds=args.seconds,
            source=args.source,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
