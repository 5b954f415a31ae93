"""``ota-provider``: command line compatible with the SDK's ``ota-provider-app``.

Every flag of the SDK app is accepted with the same short and long names
(OTA_PROVIDER_SPEC.md §1.1), plus the common node flags. Numbers accept decimal,
``0x`` hex and leading-``0`` octal like the SDK's ``strtoul(..., 0)``, but garbage is
an error here instead of a silent 0. A bad value is one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import os
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path

import segno

from ..api.app_pipe import AppPipeError
from ..api.control import ControlError, parse_control_target
from ..attestation.credentials import AttestationError
from ..bdx.sender import UDP_BLOCK_LIMIT
from ..codec.setup_payload import SetupCodeError, SetupPayload, check_passcode
from ..commissioner.credential_store import CredentialStore
from ..commissioner.device_store import DeviceStore
from ..commissioner.network_credentials import CredentialError
from ..commissioner.trust import load_paa_folder
from ..commissioner.watch import UpdateWatch
from ..config import (
    DEFAULT_DISCRIMINATOR,
    DEFAULT_MAX_BDX_BLOCK_SIZE,
    DEFAULT_MRP_ACTIVE_INTERVAL_MS,
    DEFAULT_MRP_ACTIVE_THRESHOLD_MS,
    DEFAULT_MRP_IDLE_INTERVAL_MS,
    DEFAULT_PASSCODE,
    DEFAULT_PORT,
    DEFAULT_PRODUCT_ID,
    DEFAULT_VENDOR_ID,
    DEMO_BLOCK_INTERVAL,
    DEMO_REQUESTORS,
    MAX_DEMO_REQUESTORS,
    ProviderConfig,
    installed_version,
)
from ..engine import ProviderEngine, onboarding_payload
from ..engine.snapshots import image_summary
from ..fabric.acl import AclError
from ..fabric.demo import DemoFabricError
from ..fabric.table import FabricError
from ..node_ids import node_text
from ..ota.catalog import CatalogEntry, CatalogError, ImageCatalog
from ..ota.history import UpdateHistory, rows_as_csv, rows_as_text
from ..ota.knob_names import APPLY_ACTIONS, CONSENT_STATES, QUERY_STATUSES
from ..ota.types import ApplyUpdateAction, QueryImageStatus
from ..presentation.images import IMAGE_COLUMNS, image_cells
from ..presentation.ledger import ledger_text
from ..presentation.lines import event_fields, event_text
from ..presentation.sdk_lines import sdk_lines
from ..presentation.words import socket_address
from ..setup_target import parse_target
from ..storage.database import DATABASE_NAME, Database, StorageError
from ..trace import TraceError
from ..transport.port_owner import udp_port_owner
from .common import (
    EXIT_USAGE,
    PROG,
    SDK_PROG,
    LinePrinter,
    Parser,
    aligned,
    default_storage,
    ledger_argument,
    parse_number,
    state_arguments,
    state_path,
)
from .networks import SecretRefused, network_for_commissioning

_QUERY_STATUS, _APPLY_ACTION, _CONSENT = QUERY_STATUSES, APPLY_ACTIONS, CONSENT_STATES  # the one table of names


def _ranged(low: int, high: int, what: str) -> Callable[[str], int]:
    def convert(text: str) -> int:
        value = parse_number(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{what} must be {low}..{high}, not {value}")
        return value

    convert.__name__ = what  # argparse names the converter in some messages
    return convert


def _seconds(what: str) -> Callable[[str], float]:
    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number of seconds, not {text!r}") from None
        if not 0 <= value <= 3600:
            raise argparse.ArgumentTypeError(f"{what} must be 0..3600 seconds, not {text}")
        return value

    convert.__name__ = what
    return convert


def _choice(mapping: Mapping[str, object], what: str) -> Callable[[str], object]:
    def convert(text: str) -> object:
        if text not in mapping:
            raise argparse.ArgumentTypeError(f"{what} must be one of {', '.join(mapping)}, not {text!r}")
        return mapping[text]

    convert.__name__ = what
    return convert


def _passcode(text: str) -> int:
    try:
        return check_passcode(parse_number(text))
    except SetupCodeError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _commission_target(text: str) -> str:
    try:
        parse_target(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _control_target(text: str) -> str:
    try:
        parse_control_target(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _paa_folder(text: str) -> Path:
    try:
        load_paa_folder(Path(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return Path(text)


def _readable_file(text: str) -> Path:
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory; give an image file (or -o an image list)")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{text}: {exc.strerror}") from None
    return path


def _image_uri(text: str) -> str:
    if not 1 <= len(text.encode("utf-8")) <= 256:
        raise argparse.ArgumentTypeError("image URI must be 1..256 bytes")
    return text


def _bench_arguments(parser: argparse.ArgumentParser) -> None:
    """Commissioning the devices under test onto our bench fabric, over IP or BLE."""
    bench = parser.add_argument_group("commissioning devices onto the bench fabric")
    bench.add_argument(
        "--commission",
        action="append",
        type=_commission_target,
        metavar="CODE[@HOST[:PORT]]",
        help="at start, commission this device onto our own bench fabric (CODE: the 11-digit manual code or the "
        "MT: QR payload; HOST: IPv4, [IPv6] or a name; PORT: default 5540); repeatable",
    )
    bench.add_argument(
        "--exit-when-updated",
        action="store_true",
        help="with --commission and --headless: exit 0 once every commissioned device reports the new version "
        "itself, 1 with the reason as soon as one cannot be updated",
    )
    bench.add_argument(
        "--stage-timeout",
        type=_seconds("--stage-timeout"),
        default=30.0,
        metavar="SECONDS",
        help="how long each commissioning stage may wait for the device (default 30, as the SDK)",
    )
    bench.add_argument(
        "--timeout",
        type=_ranged(1, 86400, "--timeout"),
        metavar="SECONDS",
        help="with --exit-when-updated: exit 1 if the devices are not all updated by then",
    )
    bench.add_argument(
        "--paa-trust-store",
        type=_paa_folder,
        metavar="DIR",
        help="production PAAs (DER or PEM), trusted besides the bundled test PAAs",
    )
    bench.add_argument(
        "--ble",
        action="store_true",
        help="reach the --commission devices over Bluetooth LE (a QR code that says BLE does, given a network), "
        "then give them --wifi or --thread-dataset",
    )
    bench.add_argument("--ble-adapter", metavar="hciN", help="the Bluetooth adapter (default: the first powered one)")
    joined = bench.add_mutually_exclusive_group()
    joined.add_argument(
        "--wifi",
        metavar="NAME|SSID",
        help="the Wi-Fi network for devices commissioned over BLE: a name kept by `ota-provider networks`, or an "
        "SSID (its passphrase from --wifi-passphrase-file, $OTA_PROVIDER_WIFI_PASSPHRASE or a prompt; kept)",
    )
    joined.add_argument(
        "--thread-dataset",
        metavar="NAME|HEX",
        help="the Thread network for devices commissioned over BLE: a name kept by `ota-provider networks`, or "
        "the operational dataset's hex TLVs (`ot-ctl dataset active -x`; kept)",
    )
    bench.add_argument(
        "--wifi-passphrase-file",
        type=Path,
        metavar="FILE",
        help="the --wifi passphrase: the first line of FILE ('-': stdin), never a flag value",
    )
    bench.add_argument(
        "--allow-unverified-attestation",
        action="store_true",
        help="commission a device whose attestation fails (the verdict is still shown), as chip-tool's bypass does",
    )


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = Parser(
        prog=prog,
        description="Matter OTA Software Update Provider with a live dashboard. "
        "Flags match the SDK's ota-provider-app; the SDK's first-response flags "
        "(-q -t -u -c -a -p -x -y) set one-shot values for the first response actually sent.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Numbers accept decimal, 0x-hex and 0-octal.\n"
        f"{PROG} history [--json | --csv] [--node ID] prints the update history; {PROG} devices [--json] lists "
        "the devices commissioned onto the bench fabric.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {installed_version()}")
    images = parser.add_argument_group("images (give exactly one, unless --demo)")
    images.add_argument("-f", "--filepath", type=_readable_file, metavar="FILE", help="the OTA image file to serve")
    images.add_argument(
        "-o",
        "--otaImageList",
        dest="image_list",
        type=_readable_file,
        metavar="LIST.json",
        help="image list JSON (deviceSoftwareVersionModel), as for the SDK app",
    )
    images.add_argument(
        "--dcl",
        action="append",
        type=ledger_argument,
        metavar="mainnet|testnet|URL",
        help="also offer the updates published on this ledger (the CSA DCL, or a replica or cache at URL), "
        "downloaded over HTTPS and checked; repeat for several, asked in order (the newest applicable wins)",
    )

    responses = parser.add_argument_group("responses (the SDK app's flags)")
    responses.add_argument(
        "-q",
        "--queryImageStatus",
        dest="query_image_status",
        type=_choice(_QUERY_STATUS, "query image status"),
        default=QueryImageStatus.UPDATE_AVAILABLE,
        metavar="STATUS",
        help="status of the first QueryImageResponse: updateAvailable | busy | updateNotAvailable",
    )
    responses.add_argument(
        "-t",
        "--delayedQueryActionTimeSec",
        dest="delayed_query_action_time",
        type=_ranged(0, 0xFFFF_FFFF, "delayed query action time"),
        default=0,
        metavar="SECONDS",
        help="DelayedActionTime of the first QueryImageResponse (sent only with Busy)",
    )
    responses.add_argument(
        "--persistQueryImageStatus",
        dest="persist_query_image_status",
        action="store_true",
        help="keep -q and -t for every QueryImageResponse, not the first only (as the SDK app's flag)",
    )
    responses.add_argument(
        "-u",
        "--userConsentState",
        dest="user_consent_state",
        type=_choice(_CONSENT, "user consent state"),
        metavar="STATE",
        help="provider-side consent for the first consultation: granted | denied | deferred",
    )
    responses.add_argument(
        "-c",
        "--userConsentNeeded",
        dest="user_consent_needed",
        action="store_true",
        help="set UserConsentNeeded when the requestor says it can ask for consent",
    )
    responses.add_argument(
        "-a",
        "--applyUpdateAction",
        dest="apply_update_action",
        type=_choice(_APPLY_ACTION, "apply update action"),
        default=ApplyUpdateAction.PROCEED,
        metavar="ACTION",
        help="Action of the first ApplyUpdateResponse: proceed | awaitNextAction | discontinue",
    )
    responses.add_argument(
        "-p",
        "--delayedApplyActionTimeSec",
        dest="delayed_apply_action_time",
        type=_ranged(0, 0xFFFF_FFFF, "delayed apply action time"),
        default=0,
        metavar="SECONDS",
        help="DelayedActionTime of the first ApplyUpdateResponse",
    )
    responses.add_argument(
        "-x",
        "--ignoreQueryImage",
        dest="ignore_query_image",
        type=_ranged(0, 0xFFFF_FFFF, "ignore count"),
        default=0,
        metavar="N",
        help="do not answer the next N QueryImage commands",
    )
    responses.add_argument(
        "-y",
        "--ignoreApplyUpdate",
        dest="ignore_apply_update",
        type=_ranged(0, 0xFFFF_FFFF, "ignore count"),
        default=0,
        metavar="N",
        help="do not answer the next N ApplyUpdateRequest commands",
    )
    responses.add_argument(
        "-i",
        "--imageUri",
        dest="image_uri",
        type=_image_uri,
        metavar="URI",
        help="send this ImageURI verbatim instead of bdx://<node id>/<designator>",
    )
    responses.add_argument(
        "--offer-any",
        action="store_true",
        help="with -f, offer the file to every requestor whatever its VID, PID and version, as the SDK app "
        "does (by default they are checked)",
    )

    transfer = parser.add_argument_group("transfers")
    transfer.add_argument(
        "-m",
        "--maxBDXBlockSize",
        dest="max_bdx_block_size",
        type=_ranged(1, 0xFFFF, "max BDX block size"),
        default=DEFAULT_MAX_BDX_BLOCK_SIZE,
        metavar="BYTES",
        help=f"largest BDX block offered (default {DEFAULT_MAX_BDX_BLOCK_SIZE}; the transport may cap it further)",
    )
    transfer.add_argument(
        "-P",
        "--pollInterval",
        dest="poll_interval_ms",
        type=_ranged(0, 3_600_000, "poll interval"),
        default=0,
        metavar="MS",
        help="pace blocks at most one per MS milliseconds to emulate a slow link "
        "(default 0: answer each BlockQuery at once; the SDK app polls every 50 ms)",
    )

    node = parser.add_argument_group("node")
    node.add_argument(
        "--discriminator",
        type=_ranged(0, 0xFFF, "discriminator"),
        default=DEFAULT_DISCRIMINATOR,
        help=f"12-bit discriminator (default {DEFAULT_DISCRIMINATOR})",
    )
    node.add_argument(
        "--passcode",
        type=_passcode,
        default=DEFAULT_PASSCODE,
        help=f"setup passcode, 1..99999998 minus trivial values (default {DEFAULT_PASSCODE})",
    )
    node.add_argument(
        "--secured-device-port",
        "--port",
        dest="port",
        type=_ranged(0, 0xFFFF, "port"),
        default=DEFAULT_PORT,
        help=f"UDP port (default {DEFAULT_PORT}; 0 picks a free one)",
    )
    node.add_argument(
        "--vendor-id",
        type=_ranged(1, 0xFFFE, "vendor id"),
        default=DEFAULT_VENDOR_ID,
        help=f"vendor id of this node (default 0x{DEFAULT_VENDOR_ID:04X})",
    )
    node.add_argument(
        "--product-id",
        type=_ranged(1, 0xFFFE, "product id"),
        default=DEFAULT_PRODUCT_ID,
        help=f"product id of this node (default 0x{DEFAULT_PRODUCT_ID:04X})",
    )
    node.add_argument("--storage", type=Path, metavar="DIR", help="state directory (node identity, fabrics, history)")
    node.add_argument("--KVS", dest="kvs", type=Path, metavar="FILE", help="state database file (SDK-style spelling)")
    node.add_argument(
        "--allow-ota-from-fabric",
        action="store_true",
        help="on each new fabric, grant Operate on the OTA Provider cluster (0x0029) to every node of that "
        "fabric, so requestors can query without a hand-written ACL (off by default)",
    )

    # The spec bounds SII and SAI at one hour, SAT at 65535 ms (Core spec 4.3.2.5).
    for flag, dest, high, default, text in (
        (
            "--mrp-idle-interval",
            "mrp_idle_interval_ms",
            3_600_000,
            DEFAULT_MRP_IDLE_INTERVAL_MS,
            "MRP idle retransmission interval peers use for us",
        ),
        (
            "--mrp-active-interval",
            "mrp_active_interval_ms",
            3_600_000,
            DEFAULT_MRP_ACTIVE_INTERVAL_MS,
            "MRP active retransmission interval (the SDK app uses 2000 for Thread requestors)",
        ),
        (
            "--mrp-active-threshold",
            "mrp_active_threshold_ms",
            65535,
            DEFAULT_MRP_ACTIVE_THRESHOLD_MS,
            "how long we count as active after a message",
        ),
    ):
        node.add_argument(
            flag,
            dest=dest,
            type=_ranged(0 if high == 65535 else 1, high, flag.lstrip("-")),
            default=default,
            metavar="MS",
            help=f"{text} (default {default} ms)",
        )
    node.add_argument(
        "--mrp-fixed-intervals",
        dest="mrp_fit_to_link",
        action="store_false",
        help="advertise the intervals above to every peer (default: a CASE session with a peer whose round "
        "trips were measured gets an active interval that just covers them, never above --mrp-active-interval, "
        "so a lost datagram on a fast link is retransmitted sooner)",
    )
    node.add_argument(
        "--demo-fabric",
        action="store_true",
        help="also join a locally minted demo fabric, so ota-requestor-sim can connect with no commissioner "
        "(its credentials go to demo-fabric.json in the state directory; implied by --demo)",
    )

    attestation = parser.add_argument_group(
        "attestation (default: a DAC and PAI minted under the public test PAA, and a test-signed CD)"
    )
    attestation.add_argument("--dac", type=_readable_file, metavar="DER", help="device attestation certificate")
    attestation.add_argument("--pai", type=_readable_file, metavar="DER", help="product attestation intermediate")
    attestation.add_argument("--dac-key", type=_readable_file, metavar="FILE", help="the DAC's private key, PEM or DER")
    attestation.add_argument("--cd", type=_readable_file, metavar="DER", help="certification declaration (CMS)")

    _bench_arguments(parser)

    front = parser.add_argument_group("front end")
    front.add_argument("--headless", action="store_true", help="print events as lines instead of the dashboard")
    front.add_argument(
        "--trace",
        type=Path,
        metavar="FILE.jsonl",
        help="write every Matter message in and out (decoded, no keys) for a bug report; "
        "'ota-provider trace show FILE' prints it",
    )
    front.add_argument(
        "--history-max-rows",
        type=_ranged(1000, 100_000_000, "history rows"),
        default=100_000,
        metavar="N",
        help="update history rows kept in the state directory; the oldest go first (default 100000)",
    )
    front.add_argument(
        "--trace-dir",
        type=Path,
        metavar="DIR",
        help="where traces started over the control socket go (only there, as new files; "
        "default: traces/ in the state directory)",
    )
    front.add_argument(
        "--control",
        type=_control_target,
        metavar="PATH|tcp:HOST:PORT",
        help="open the control socket (for 'ota-provider ctl', the Python client, 'ota-provider attach'): a Unix "
        "socket, owner-only, or TCP where clients give the control-token file of the state directory",
    )
    front.add_argument(
        "--app-pipe",
        type=Path,
        metavar="FIFO",
        help="the SDK app's out-of-band JSON requests (QueryImageSnapshot, GetApplyUpdateRequestStatus, "
        "GetBDXOffset) are read from this named pipe; made owner-only if missing",
    )
    front.add_argument(
        "--app-pipe-out", type=Path, metavar="FIFO", help="with --app-pipe, the named pipe the replies are written to"
    )
    front.add_argument("--sdk-app", action="store_true", help=argparse.SUPPRESS)  # chip-ota-provider-app's mode
    front.add_argument("--json", dest="json_lines", action="store_true", help="with --headless, print JSON lines")
    front.add_argument("--demo", action="store_true", help="serve the bundled sample images (no -f/-o needed)")
    front.add_argument(
        "--demo-requestors",
        type=_ranged(1, MAX_DEMO_REQUESTORS, "--demo-requestors"),
        default=None,
        metavar="N",
        help=f"with --demo, how many simulated requestors run (default {DEMO_REQUESTORS})",
    )
    front.add_argument(
        "--demo-block-interval",
        type=_seconds("--demo-block-interval"),
        default=None,
        metavar="S",
        help=f"with --demo, seconds each simulated requestor waits between blocks, so downloads can be watched "
        f"(default {DEMO_BLOCK_INTERVAL}; 0 downloads at full speed)",
    )
    front.add_argument(
        "--export-dir",
        type=Path,
        metavar="DIR",
        help="where the dashboard writes logs, history and screenshots (w, s; default: exports/ in the state "
        "directory)",
    )
    front.add_argument(
        "--check", action="store_true", help="check the configuration and images, print the setup codes, and exit"
    )
    return parser


def sample_image_list() -> Path:
    return Path(str(resources.files("ota_provider.sample_images") / "image-list.json"))


def _as_the_sdk_app(args: argparse.Namespace) -> None:
    """chip-ota-provider-app: headless, ``-f`` offered to anyone whatever its version (the SDK app
    checks nothing; TC-SU-2.2 offers a same-version image on purpose), and the control socket beside
    the state, so ``ota-provider attach KVS.sock`` watches what the scripts do."""
    args.headless = True
    args.offer_any = args.offer_any or args.filepath is not None
    if args.control is None and args.kvs is not None:
        args.control = str(args.kvs.with_name(args.kvs.name + ".sock"))


def parse_config(argv: Sequence[str] | None = None, prog: str = PROG) -> ProviderConfig:
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if args.filepath and args.image_list:
        parser.error("-f/--filepath and -o/--otaImageList cannot be combined")
    if not (args.filepath or args.image_list or args.demo or args.dcl):
        parser.error("either an OTA file (-f), an image list file (-o) or a ledger (--dcl) must be specified")
    args.dcl = tuple(args.dcl or ())
    if args.storage and args.kvs:
        parser.error("--storage and --KVS cannot be combined")
    if args.offer_any and not args.filepath:
        parser.error("--offer-any goes with -f (an image list always checks VID/PID and versions)")
    given = [name for name in ("dac", "pai", "dac_key", "cd") if getattr(args, name) is not None]
    if given and len(given) != 4:
        parser.error("--dac, --pai, --dac-key and --cd go together")
    if (args.app_pipe is None) != (args.app_pipe_out is None):
        parser.error("--app-pipe and --app-pipe-out go together (requests in, replies out)")
    if args.sdk_app:
        _as_the_sdk_app(args)
    if args.json_lines and not args.headless:
        args.headless = True
    if args.exit_when_updated and not args.commission:
        parser.error("--exit-when-updated needs --commission CODE[@HOST[:PORT]] (the devices to wait for)")
    if args.exit_when_updated and not args.headless:
        parser.error("--exit-when-updated goes with --headless (or --json)")
    if args.timeout is not None and not args.exit_when_updated:
        parser.error("--timeout goes with --exit-when-updated")
    if args.wifi_passphrase_file is not None and args.wifi is None:
        parser.error("--wifi-passphrase-file goes with --wifi SSID")
    if args.ble and args.commission and args.wifi is None and args.thread_dataset is None:
        parser.error(
            "--ble --commission needs the network to give the device: --wifi NAME|SSID or --thread-dataset NAME|HEX"
        )
    _demo_defaults(parser, args)
    return ProviderConfig(**vars(args))


def _demo_defaults(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for flag, dest, default in (
        ("--demo-requestors", "demo_requestors", DEMO_REQUESTORS),
        ("--demo-block-interval", "demo_block_interval", DEMO_BLOCK_INTERVAL),
    ):
        if getattr(args, dest) is not None and not args.demo:
            parser.error(f"{flag} goes with --demo (the simulated requestors run only in the demo)")
        if getattr(args, dest) is None:
            setattr(args, dest, default)
    if args.demo and not (args.filepath or args.image_list):
        args.image_list = sample_image_list()
    if args.demo:
        args.demo_fabric = True
        if args.storage is None and args.kvs is None:  # keep the demo's fabric out of the real state
            args.storage = default_storage() / "demo"


def _catalog_lines(catalog: ImageCatalog) -> list[str]:
    kind = "image list" if catalog.is_list else "image file"
    rows = [IMAGE_COLUMNS, *(image_cells(image_summary(entry)) for entry in catalog.entries)]
    return [f"Images ({kind} {catalog.source}):", *("  " + line for line in aligned(rows))]


Serve = Callable[[ProviderConfig, ImageCatalog, "_Printer"], int]


def _prog(config: ProviderConfig) -> str:
    """The name errors are said under: the drop-in answers to the SDK app's."""
    return SDK_PROG if config.sdk_app else PROG


SDK_KVS_HEADER = b"[Default]"  # the SDK's Linux KVS is an INI file with this one section


def _adopt_sdk_kvs(kvs: Path, prog: str) -> None:
    """Make the drop-in's ``--KVS`` file ours. The certification launcher hands the SDK app a new,
    empty temporary file: a fresh state, not a damaged database (which ota-provider refuses to
    overwrite). TC-SU-2.2 gives a fixed path that the SDK's own app may have left there: it is
    moved aside, not lost, and the scripts commission the provider again anyway."""
    with kvs.open("rb") as file:
        head = file.read(len(SDK_KVS_HEADER))
    if not head:
        kvs.unlink()
    elif head == SDK_KVS_HEADER:
        aside = kvs.with_name(kvs.name + ".sdk-kvs")
        kvs.replace(aside)
        print(f"{prog}: {kvs} held the SDK app's state; moved it to {aside} and started a fresh one", file=sys.stderr)


def run(config: ProviderConfig, out=sys.stdout, serve: Serve | None = None) -> int:
    """Load the images, print them and the setup codes, then serve (headless unless the front
    end passes its own ``serve``)."""
    prog = _prog(config)
    try:
        if config.dcl and not (config.filepath or config.image_list):
            catalog = ImageCatalog.empty()  # the ledger's images only
        else:
            catalog = ImageCatalog.load(
                filepath=str(config.filepath) if config.filepath else None,
                image_list=str(config.image_list) if config.image_list else None,
            )
    except CatalogError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if config.sdk_app and config.kvs is not None and config.kvs.is_file():
        _adopt_sdk_kvs(config.kvs, prog)
    problem = storage_problem(config)
    if problem is not None:
        print(f"{prog}: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if config.wifi is not None or config.thread_dataset is not None:
        try:
            config = dataclasses.replace(config, ble_network=_ble_network(config))
        except (CredentialError, SecretRefused, StorageError) as exc:
            print(f"{prog}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    onboarding = onboarding_payload(config)
    emit = _Printer(out, config.json_lines)
    emit.startup(catalog, onboarding, config)
    if config.check:
        return 0
    try:
        return (serve or _serve)(config, catalog, emit)
    except (StorageError, AttestationError, DemoFabricError, ControlError, TraceError, AppPipeError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (FabricError, AclError) as exc:
        print(
            f"{prog}: error: the state in {config.storage or default_storage()} is damaged: {exc}; restore it from a "
            "backup, or move it away to start a node with no fabrics",
            file=sys.stderr,
        )
        return 1
    except sqlite3.Error as exc:
        print(
            f"{prog}: error: the state database in {config.storage or default_storage()} cannot be written: {exc}"
            + (" (free some space on its disk)" if "full" in str(exc) else ""),
            file=sys.stderr,
        )
        return 1
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            print(
                f"{prog}: error: no space left for the state in {config.storage or default_storage()}: "
                f"{exc.strerror}; free some space on its disk",
                file=sys.stderr,
            )
            return 1
        if exc.errno == errno.EADDRINUSE:
            owner = udp_port_owner(config.port)
            print(
                f"{prog}: error: UDP port {config.port} is already in use (by {owner or 'another process'}); "
                "stop it or choose another --secured-device-port",
                file=sys.stderr,
            )
        else:
            print(f"{prog}: error: cannot listen on UDP port {config.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1


class _Printer(LinePrinter):
    """The serving provider's output: its start-up block, then a line per event."""

    def startup(self, catalog, onboarding: SetupPayload, config: ProviderConfig) -> None:
        if self.json_lines:
            self.event(
                "ImagesLoaded", "", source=str(catalog.source), entries=[_entry_json(e) for e in catalog.entries]
            )
            self.event(
                "Onboarding",
                "",
                qrCode=onboarding.qr_code(),
                manualCode=onboarding.manual_code(),
                discriminator=config.discriminator,
            )
            for note in startup_notes(config):
                self.event("Note", note, note=note)
            return
        lines = _catalog_lines(catalog) if catalog.entries or not config.dcl else []
        if not catalog.entries and not config.dcl:
            lines.append("  warning: no images: every query gets NotAvailable")
        if config.dcl:
            lines.append("Ledgers (asked in this order): " + ", ".join(ledger_text(s) for s in config.dcl))
        lines += [f"  note: {note}" for note in startup_notes(config)]
        lines += [
            "",
            f"Commissioning: discriminator {config.discriminator}, passcode {config.passcode:08d}",
            f"  QR payload:  {onboarding.qr_code()}",
            f"  Manual code: {SetupPayload.format_manual_code(onboarding.manual_code())}",
        ]
        print("\n".join(lines), file=self.out)
        if self.out.isatty():
            # Half-block rendering keeps the code square and small enough for a phone to scan.
            segno.make(onboarding.qr_code(), error="m").terminal(out=self.out, compact=True, border=2)


def startup_notes(config: ProviderConfig) -> list[str]:
    """What the provider will do differently from what a flag seems to ask, said once at start."""
    notes = []
    if config.max_bdx_block_size > UDP_BLOCK_LIMIT:
        notes.append(
            f"-m {config.max_bdx_block_size}: blocks over UDP carry at most {UDP_BLOCK_LIMIT} bytes "
            "(what the spec lets a requestor ask for over UDP); larger proposals are answered with that"
        )
    uri = config.image_uri
    if uri is not None and not uri.lower().startswith(("bdx://", "https://")):
        notes.append(
            f"-i {uri!r} is neither a bdx:// nor an https:// URI: requestors get it as it is (the "
            "certification scripts use this to test an invalid ImageURI)"
        )
    return notes


def _ble_network(config: ProviderConfig):
    """The --wifi / --thread-dataset network, read (and kept) before anything starts: a prompt
    for a passphrase must come before the dashboard takes the terminal."""
    directory = config.storage or default_storage()
    directory.mkdir(parents=True, exist_ok=True)
    db = Database(config.kvs or directory / DATABASE_NAME)
    try:
        return network_for_commissioning(
            CredentialStore(db), config.wifi, config.wifi_passphrase_file, config.thread_dataset
        )
    finally:
        db.close()


def storage_problem(config: ProviderConfig) -> str | None:
    """What makes the state directory unusable, said before anything starts (None: it is fine)."""
    directory = config.kvs.parent if config.kvs is not None else (config.storage or default_storage())
    flag = "--KVS" if config.kvs is not None else "--storage"
    if directory.exists():
        if not directory.is_dir():
            return f"{flag} {directory} is a file, not a directory; give a directory for the state"
        if not os.access(directory, os.W_OK | os.X_OK):
            return f"{flag} {directory} is not writable; give a directory this user may write"
        if config.kvs is not None and config.kvs.is_dir():
            return f"--KVS {config.kvs} is a directory; give the state database's file name"
        return None
    ancestor = directory.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"cannot create {flag} {directory}: {ancestor} is a file"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"cannot create {flag} {directory}: {ancestor} is not writable"
    return None


def build_engine(config: ProviderConfig, catalog: ImageCatalog) -> ProviderEngine:
    storage, database = config.storage or default_storage(), None
    if config.kvs is not None:
        storage, database = config.kvs.parent, config.kvs.name
    return ProviderEngine(config, catalog, storage=storage, database_name=database)


def _serve(config: ProviderConfig, catalog: ImageCatalog, emit: _Printer) -> int:
    """Run the engine and print its events until SIGINT or SIGTERM."""
    prog = _prog(config)
    engine = build_engine(config, catalog)
    stop = threading.Event()
    previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in (signal.SIGINT, signal.SIGTERM)}
    watch = UpdateWatch(len(config.commission or ())) if config.exit_when_updated else None
    deadline = time.monotonic() + config.timeout if config.timeout else None
    outcome: tuple[int, str] | None = None
    engine.events_only()  # lines are made from events; snapshots are for dashboards and clients
    try:
        engine.start()
        while not stop.is_set() and engine.running and outcome is None:
            event = engine.next_event(timeout=0.2)
            if event is None:
                continue
            if config.sdk_app:
                for line in sdk_lines(event):
                    emit.plain(line)
            if event.logged:
                emit.event(event.name, event_text(event), at=event.at, **event_fields(event))
                outcome = watch.feed(event) if watch is not None else None
            if outcome is None and deadline is not None and time.monotonic() > deadline:
                outcome = 1, f"not every device was updated within --timeout {config.timeout} s"
    finally:
        engine.stop()
        for event in engine.drain():
            if event.logged:
                emit.event(event.name, event_text(event), at=event.at, **event_fields(event))
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if outcome is not None:
        code, line = outcome
        print(f"{prog}: {line}" if code == 0 else f"{prog}: error: {line}", file=sys.stderr)
        return code
    return 0


def _entry_json(entry: CatalogEntry) -> dict[str, object]:
    return {
        "designator": entry.designator,
        "path": str(entry.path),
        "vendorId": entry.vendor_id,
        "productId": entry.product_id,
        "softwareVersion": entry.software_version,
        "softwareVersionString": entry.software_version_string,
        "softwareVersionValid": entry.software_version_valid,
        "minApplicableSoftwareVersion": entry.min_applicable_version,
        "maxApplicableSoftwareVersion": entry.max_applicable_version,
        "size": entry.size,
        "origin": entry.origin.name,
    }


def _open_state(args: argparse.Namespace) -> Database | None:
    """The state database the subcommand reads, or None after one line saying why not."""
    path = state_path(args)
    if not path.exists():
        print(f"{PROG}: error: no state database at {path}; give --storage DIR or --KVS FILE", file=sys.stderr)
        return None
    try:
        return Database(path, read_only=True)
    except StorageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return None


def history_main(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} history", description="print the update history kept in the state database")
    state_arguments(parser)
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="one JSON object per line")
    form.add_argument("--csv", action="store_true", help="CSV with a header row")
    parser.add_argument("--node", type=parse_number, metavar="ID", help="only this requestor node id")
    parser.add_argument("--last", type=_ranged(1, 1 << 31, "--last"), metavar="N", help="only the last N rows")
    args = parser.parse_args(argv)
    db = _open_state(args)
    if db is None:
        return EXIT_USAGE
    try:
        rows = UpdateHistory(db).rows(node_id=args.node, limit=args.last)
    except sqlite3.DatabaseError as exc:
        print(f"{PROG}: error: the history in {db.path} cannot be read: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    if args.json:
        sys.stdout.write("".join(json.dumps(row.as_json()) + "\n" for row in rows))
    elif args.csv:
        sys.stdout.write(rows_as_csv(rows))
    else:
        sys.stdout.write(rows_as_text(rows) or "no history yet\n")
    return 0


def devices_main(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} devices", description="list the devices commissioned onto the bench fabric")
    state_arguments(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args(argv)
    db = _open_state(args)
    if db is None:
        return EXIT_USAGE
    try:
        devices = DeviceStore(db).all()
    finally:
        db.close()
    if args.json:
        sys.stdout.write("".join(json.dumps(d.as_json()) + "\n" for d in devices))
        return 0
    if not devices:
        sys.stdout.write("no devices commissioned yet (ota-provider --commission CODE[@HOST[:PORT]])\n")
        return 0
    rows = [("node id", "VID:PID", "product", "version", "state", "address", "attestation")]
    rows += [
        (
            f"{node_text(d.node_id)}",
            f"{d.vendor_id:04X}:{d.product_id:04X}",
            d.product_name or "",
            "" if d.software_version is None else f"{d.software_version} ({d.version_string or ''})",
            d.state,
            socket_address((d.address, d.port)),
            d.attestation,
        )
        for d in devices
    ]
    sys.stdout.write("".join(line + "\n" for line in aligned(rows)))
    return 0


def serve_main(argv: Sequence[str], serve: Serve | None = None, prog: str = PROG) -> int:
    """Serve updates: the headless lines, or ``serve`` (the dashboard) when the launcher gives one."""
    config = parse_config(argv, prog)
    try:
        return run(config, serve=serve if serve and not config.headless else None)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
