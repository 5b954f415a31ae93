"""Secure Channel session-establishment messages (PASE, and the shared session parameters)."""

from __future__ import annotations

from dataclasses import dataclass

from ..codec.schema import Bool, EmptyAsAbsent, OctetString, StructOf, TLVStruct, UInt16, UInt32, tlv_field
from ..session.secure import SessionParameters

__all__ = [
    "Pake1",
    "Pake2",
    "Pake3",
    "PbkdfParamRequest",
    "PbkdfParamResponse",
    "PbkdfParameters",
    "SessionParameterStruct",
    "Sigma1",
    "Sigma2",
    "Sigma2Resume",
    "Sigma2Tbe",
    "Sigma3",
    "Sigma3Tbe",
    "SigmaTbs",
]

DATA_MODEL_REVISION = 17
INTERACTION_MODEL_REVISION = 11
SPECIFICATION_VERSION = 0x01030000
MAX_PATHS_PER_INVOKE = 1


MAX_INTERVAL_MS = 3_600_000  # the largest idle or active retransmission interval a peer may ask for


@dataclass(frozen=True)
class SessionParameterStruct(TLVStruct):
    """session-parameter-struct (Core spec 4.13.1.4)."""

    idle_interval: int | None = tlv_field(1, UInt32, optional=True)
    active_interval: int | None = tlv_field(2, UInt32, optional=True)
    active_threshold: int | None = tlv_field(3, UInt16, optional=True)
    data_model_revision: int | None = tlv_field(4, UInt16, optional=True)
    interaction_model_revision: int | None = tlv_field(5, UInt16, optional=True)
    specification_version: int | None = tlv_field(6, UInt32, optional=True)
    max_paths_per_invoke: int | None = tlv_field(7, UInt16, optional=True)

    @classmethod
    def ours(cls, params: SessionParameters) -> SessionParameterStruct:
        return cls(
            idle_interval=params.idle_interval_ms,
            active_interval=params.active_interval_ms,
            active_threshold=params.active_threshold_ms,
            data_model_revision=DATA_MODEL_REVISION,
            interaction_model_revision=INTERACTION_MODEL_REVISION,
            specification_version=SPECIFICATION_VERSION,
            max_paths_per_invoke=MAX_PATHS_PER_INVOKE,
        )

    def to_parameters(self) -> SessionParameters:
        """The peer's MRP parameters, each interval capped at the spec's maximum of one hour (Core
        spec 4.12.8, SESSION_IDLE_INTERVAL and SESSION_ACTIVE_INTERVAL): a peer asking for 0xFFFFFFFF
        ms would have our first retransmission wait 54 days and keep its session busy as long."""
        defaults = SessionParameters()
        idle = self.idle_interval if self.idle_interval is not None else defaults.idle_interval_ms
        active = self.active_interval if self.active_interval is not None else defaults.active_interval_ms
        threshold = self.active_threshold if self.active_threshold is not None else defaults.active_threshold_ms
        idle, active = min(idle, MAX_INTERVAL_MS), min(active, MAX_INTERVAL_MS)
        return SessionParameters(idle_interval_ms=idle, active_interval_ms=active, active_threshold_ms=threshold)


@dataclass(frozen=True)
class PbkdfParamRequest(TLVStruct):
    initiator_random: bytes = tlv_field(1, OctetString(32, 32))
    initiator_session_id: int = tlv_field(2, UInt16)
    passcode_id: int = tlv_field(3, UInt16)
    has_pbkdf_parameters: bool = tlv_field(4, Bool)
    initiator_session_params: SessionParameterStruct | None = tlv_field(
        5, StructOf(SessionParameterStruct), optional=True
    )


@dataclass(frozen=True)
class PbkdfParameters(TLVStruct):
    iterations: int = tlv_field(1, UInt32)
    salt: bytes = tlv_field(2, OctetString(16, 32))


@dataclass(frozen=True)
class PbkdfParamResponse(TLVStruct):
    initiator_random: bytes = tlv_field(1, OctetString(32, 32))
    responder_random: bytes = tlv_field(2, OctetString(32, 32))
    responder_session_id: int = tlv_field(3, UInt16)
    pbkdf_parameters: PbkdfParameters | None = tlv_field(4, StructOf(PbkdfParameters), optional=True)
    responder_session_params: SessionParameterStruct | None = tlv_field(
        5, StructOf(SessionParameterStruct), optional=True
    )


@dataclass(frozen=True)
class Pake1(TLVStruct):
    pa: bytes = tlv_field(1, OctetString(65, 65))


@dataclass(frozen=True)
class Pake2(TLVStruct):
    pb: bytes = tlv_field(1, OctetString(65, 65))
    cb: bytes = tlv_field(2, OctetString(32, 32))


@dataclass(frozen=True)
class Pake3(TLVStruct):
    ca: bytes = tlv_field(1, OctetString(32, 32))


@dataclass(frozen=True)
class Sigma1(TLVStruct):
    initiator_random: bytes = tlv_field(1, OctetString(32, 32))
    initiator_session_id: int = tlv_field(2, UInt16)
    destination_id: bytes = tlv_field(3, OctetString(32, 32))
    initiator_eph_pub_key: bytes = tlv_field(4, OctetString(65, 65))
    initiator_session_params: SessionParameterStruct | None = tlv_field(
        5, StructOf(SessionParameterStruct), optional=True
    )
    resumption_id: bytes | None = tlv_field(6, OctetString(16, 16), optional=True)
    initiator_resume_mic: bytes | None = tlv_field(7, OctetString(16, 16), optional=True)


@dataclass(frozen=True)
class Sigma2(TLVStruct):
    responder_random: bytes = tlv_field(1, OctetString(32, 32))
    responder_session_id: int = tlv_field(2, UInt16)
    responder_eph_pub_key: bytes = tlv_field(3, OctetString(65, 65))
    encrypted2: bytes = tlv_field(4, OctetString(17))
    responder_session_params: SessionParameterStruct | None = tlv_field(
        5, StructOf(SessionParameterStruct), optional=True
    )


@dataclass(frozen=True, kw_only=True)
class SigmaTbs(TLVStruct):
    """sigma-2-tbsdata and sigma-3-tbsdata have the same shape."""

    sender_noc: bytes = tlv_field(1, OctetString(1, 400))
    sender_icac: bytes | None = tlv_field(2, OctetString(1, 400), optional=True)  # omitted when empty, as the SDK does
    sender_eph_pub_key: bytes = tlv_field(3, OctetString(65, 65))
    receiver_eph_pub_key: bytes = tlv_field(4, OctetString(65, 65))


@dataclass(frozen=True, kw_only=True)
class Sigma2Tbe(TLVStruct):
    responder_noc: bytes = tlv_field(1, OctetString(1, 400))
    responder_icac: bytes | None = tlv_field(2, EmptyAsAbsent(OctetString(1, 400)), optional=True)
    signature: bytes = tlv_field(3, OctetString(64, 64))
    resumption_id: bytes = tlv_field(4, OctetString(16, 16))


@dataclass(frozen=True)
class Sigma3(TLVStruct):
    encrypted3: bytes = tlv_field(1, OctetString(17))


@dataclass(frozen=True, kw_only=True)
class Sigma3Tbe(TLVStruct):
    initiator_noc: bytes = tlv_field(1, OctetString(1, 400))
    initiator_icac: bytes | None = tlv_field(2, EmptyAsAbsent(OctetString(1, 400)), optional=True)
    signature: bytes = tlv_field(3, OctetString(64, 64))


@dataclass(frozen=True)
class Sigma2Resume(TLVStruct):
    resumption_id: bytes = tlv_field(1, OctetString(16, 16))
    sigma2_resume_mic: bytes = tlv_field(2, OctetString(16, 16))
    responder_session_id: int = tlv_field(3, UInt16)
    responder_session_params: SessionParameterStruct | None = tlv_field(
        4, StructOf(SessionParameterStruct), optional=True
    )
