"""Protocol identifiers and opcodes (Core spec 4.4.3, Appendix "Protocol IDs")."""

from __future__ import annotations

import enum

__all__ = ["BdxOpcode", "ImOpcode", "ProtocolId", "SecureChannelOpcode"]


class ProtocolId(enum.IntEnum):
    """Protocol ids of the Matter common vendor (vendor id 0x0000)."""

    SECURE_CHANNEL = 0x0000
    INTERACTION_MODEL = 0x0001
    BDX = 0x0002
    USER_DIRECTED_COMMISSIONING = 0x0003
    FOR_TESTING = 0x0004


class SecureChannelOpcode(enum.IntEnum):
    MSG_COUNTER_SYNC_REQ = 0x00
    MSG_COUNTER_SYNC_RSP = 0x01
    STANDALONE_ACK = 0x10
    PBKDF_PARAM_REQUEST = 0x20
    PBKDF_PARAM_RESPONSE = 0x21
    PASE_PAKE1 = 0x22
    PASE_PAKE2 = 0x23
    PASE_PAKE3 = 0x24
    CASE_SIGMA1 = 0x30
    CASE_SIGMA2 = 0x31
    CASE_SIGMA3 = 0x32
    CASE_SIGMA2_RESUME = 0x33
    STATUS_REPORT = 0x40
    ICD_CHECK_IN = 0x50


class ImOpcode(enum.IntEnum):
    STATUS_RESPONSE = 0x01
    READ_REQUEST = 0x02
    SUBSCRIBE_REQUEST = 0x03
    SUBSCRIBE_RESPONSE = 0x04
    REPORT_DATA = 0x05
    WRITE_REQUEST = 0x06
    WRITE_RESPONSE = 0x07
    INVOKE_REQUEST = 0x08
    INVOKE_RESPONSE = 0x09
    TIMED_REQUEST = 0x0A


class BdxOpcode(enum.IntEnum):
    SEND_INIT = 0x01
    SEND_ACCEPT = 0x02
    RECEIVE_INIT = 0x04
    RECEIVE_ACCEPT = 0x05
    BLOCK_QUERY = 0x10
    BLOCK = 0x11
    BLOCK_EOF = 0x12
    BLOCK_ACK = 0x13
    BLOCK_ACK_EOF = 0x14
    BLOCK_QUERY_WITH_SKIP = 0x15
    STATUS_REPORT = 0x40  # BDX errors travel as Secure Channel StatusReports
