"""The provider's start-up configuration, as parsed from the command line."""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass, field
from pathlib import Path

from .commissioner.network_credentials import ThreadDataset, WifiCredentials
from .dcl.sources import LedgerSource
from .ota.types import ApplyUpdateAction, QueryImageStatus, UserConsentState

DEFAULT_DISCRIMINATOR = 3840
DEFAULT_PASSCODE = 20202021
DEFAULT_PORT = 5540
DEFAULT_VENDOR_ID = 0xFFF1
DEFAULT_PRODUCT_ID = 0x8000
DEFAULT_MAX_BDX_BLOCK_SIZE = 1024
DEFAULT_MRP_IDLE_INTERVAL_MS = 500
DEFAULT_MRP_ACTIVE_INTERVAL_MS = 300
DEFAULT_MRP_ACTIVE_THRESHOLD_MS = 4000
DEMO_REQUESTORS = 3
MAX_DEMO_REQUESTORS = 100
DEMO_BLOCK_INTERVAL = 0.1  # seconds between a simulated requestor's blocks: a download takes a few seconds


@dataclass(frozen=True)
class ProviderConfig:
    # What to serve (exactly one of the two).
    filepath: Path | None = None
    image_list: Path | None = None
    dcl: tuple[LedgerSource, ...] = ()  # ledgers whose published updates are offered too, in order

    # The SDK app's first-response knobs (OTA_PROVIDER_SPEC.md §1.1).
    apply_update_action: ApplyUpdateAction = ApplyUpdateAction.PROCEED
    user_consent_needed: bool = False
    image_uri: str | None = None
    max_bdx_block_size: int = DEFAULT_MAX_BDX_BLOCK_SIZE
    delayed_apply_action_time: int = 0
    query_image_status: QueryImageStatus = QueryImageStatus.UPDATE_AVAILABLE
    delayed_query_action_time: int = 0
    persist_query_image_status: bool = False  # -q and -t for every response, not the first only
    user_consent_state: UserConsentState | None = None
    ignore_query_image: int = 0
    ignore_apply_update: int = 0
    poll_interval_ms: int = 0
    offer_any: bool = False  # -f only: offer the file whatever the requestor's VID/PID/version (SDK behaviour)

    # The node.
    discriminator: int = DEFAULT_DISCRIMINATOR
    passcode: int = DEFAULT_PASSCODE
    port: int = DEFAULT_PORT
    vendor_id: int = DEFAULT_VENDOR_ID
    product_id: int = DEFAULT_PRODUCT_ID
    storage: Path | None = None
    kvs: Path | None = None
    allow_ota_from_fabric: bool = False
    # Our MRP parameters, advertised in DNS-SD (SII/SAI/SAT) and in the session handshakes: how
    # long peers wait before retransmitting to us (the spec's defaults; see the README).
    mrp_idle_interval_ms: int = DEFAULT_MRP_IDLE_INTERVAL_MS
    mrp_active_interval_ms: int = DEFAULT_MRP_ACTIVE_INTERVAL_MS
    mrp_active_threshold_ms: int = DEFAULT_MRP_ACTIVE_THRESHOLD_MS
    # False: every CASE handshake advertises the configured intervals, whatever the peer's link
    # (default: the active interval follows the round trips measured to that peer; exchange/link.py)
    mrp_fit_to_link: bool = True
    demo_fabric: bool = False
    dac: Path | None = None
    pai: Path | None = None
    dac_key: Path | None = None
    cd: Path | None = None

    # Front end.
    headless: bool = False
    json_lines: bool = False
    demo: bool = False
    demo_requestors: int = DEMO_REQUESTORS
    demo_block_interval: float = DEMO_BLOCK_INTERVAL
    check: bool = False
    export_dir: Path | None = None  # the dashboard's w/s files; None: the state directory's exports/
    # Commissioning devices onto the bench fabric at start: CODE[@HOST[:PORT]] each.
    commission: list[str] | None = None
    paa_trust_store: Path | None = None  # production PAAs, added to the bundled test PAAs
    allow_unverified_attestation: bool = False
    # Devices reachable only over BLE: the adapter, and the network given to them (--wifi NAME|SSID or
    # --thread-dataset NAME|HEX as typed; ble_network is what they resolved to, its secrets never in a repr).
    ble: bool = False
    ble_adapter: str | None = None
    wifi: str | None = None
    wifi_passphrase_file: Path | None = None
    thread_dataset: str | None = field(default=None, repr=False)  # hex TLVs carry the network key
    ble_network: WifiCredentials | ThreadDataset | None = None
    exit_when_updated: bool = False
    control: str | None = None  # the control socket: PATH or tcp:HOST:PORT
    app_pipe: Path | None = None  # the SDK app's out-of-band JSON: requests come in on this FIFO
    app_pipe_out: Path | None = None  # ... and replies go out on this one
    sdk_app: bool = False  # run as chip-ota-provider-app: its stdout lines, -f offered to anyone
    trace: Path | None = None  # every Matter message in and out, as JSON lines
    history_max_rows: int = 100_000  # update history rows kept; the oldest go first
    trace_dir: Path | None = None  # where control clients' traces go; None: the state directory's traces/
    stage_timeout: float = 30.0  # seconds each commissioning stage may wait for the device
    timeout: int | None = None  # seconds, with exit_when_updated


def installed_version() -> str:
    """The installed package's version (``--version``, the control socket's identity)."""
    try:
        return importlib.metadata.version("matter-ota-provider")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
