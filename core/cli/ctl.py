"""``ota-provider ctl``: drive a running provider through its control socket, from a shell or a CI
script. Each subcommand prints one line per result (or JSON with ``--json``) and exits 0 when the
provider did it, 1 when it refused or a wait timed out, 2 on a usage error."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..api.client import ControlClientError, ProviderClient, Refused, Result
from ..api.commands import APP_PIPE_QUERIES
from ..api.control import TOKEN_FILE
from ..api.values import DownloadState
from ..api.wire import EVENTS, event_to_json, to_data
from ..codec.setup_payload import SetupPayload
from ..codec.status_report import BdxStatus
from ..ota.history import rows_as_text
from ..ota.knob_names import KNOB_NAMES
from ..presentation.images import IMAGE_COLUMNS, download_cells, image_cells
from ..presentation.knobs import armed_text
from ..presentation.lines import event_fields, event_text
from ..presentation.words import plural
from .common import EXIT_USAGE, PROG, LinePrinter, Parser, aligned, default_storage, parse_number

__all__ = ["ctl_main", "default_socket"]

SOCKET_ENV = "OTA_PROVIDER_CONTROL"


def default_socket(storage: Path | None = None) -> str:
    """Where ``ota-provider --control`` without a path listens: the state directory's control.sock."""
    return os.environ.get(SOCKET_ENV) or str((storage or default_storage()) / "control.sock")


def _knob_help() -> str:
    return "knobs: " + "; ".join(f"{k.name} {k.takes}" for k in KNOB_NAMES)


def _status_name(text: str) -> BdxStatus:
    try:
        return BdxStatus(parse_number(text)) if text[:1].isdigit() else BdxStatus[text.upper().replace("-", "_")]
    except (KeyError, ValueError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a BDX status (a code such as 0x1F, or a name such as transfer-failed-unknown-error)"
        ) from None


def _node(text: str) -> int:
    """A node id as a number (decimal, 0x-hex), or as the dashboard shows it (``D001``: hex)."""
    try:
        return parse_number(text)
    except argparse.ArgumentTypeError:
        pass
    try:
        node = int(text, 16)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"node id {text!r} is not a number (0x-hex, decimal, or hex as the dashboard shows it: D001)"
        ) from None
    if not 0 <= node <= 0xFFFF_FFFF_FFFF_FFFF:
        raise argparse.ArgumentTypeError(f"node id {text!r} is more than 64 bits")
    return node


def _where_options(parser: argparse.ArgumentParser, default: Any = None) -> argparse.ArgumentParser:
    """Where the provider is. Given before the command or after it (``ctl watch --socket P``):
    after it, a missing one leaves what came before (SUPPRESS), so neither place undoes the other."""
    parser.add_argument(
        "--socket",
        metavar="PATH|tcp:HOST:PORT",
        default=default,
        help=f"the provider's control socket (default: ${SOCKET_ENV}, or control.sock in the state directory)",
    )
    parser.add_argument(
        "--storage", type=Path, metavar="DIR", default=default, help="the provider's state directory (finds its socket)"
    )
    parser.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        default=default,
        help=f"for tcp: the provider's {TOKEN_FILE} file (default: the one in --storage)",
    )
    return parser


class _VerbParser(Parser):
    """A verb's parser: it takes the where-options as well (``ctl watch --socket P``)."""

    def __init__(self, **kwargs: Any) -> None:
        where = _where_options(argparse.ArgumentParser(add_help=False), default=argparse.SUPPRESS)
        super().__init__(parents=[where], **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=f"{PROG} ctl", description="drive a running provider through its control socket", epilog=_knob_help()
    )
    _where_options(parser)
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S", help="wait this long for an answer")
    commands = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND", parser_class=_VerbParser)

    status = commands.add_parser("status", help="what runs and what is armed")
    status.add_argument("--json", action="store_true")
    images = commands.add_parser("images", help="the images served, where each came from, the ledger's on their way")
    images.add_argument("--json", action="store_true")
    watch = commands.add_parser("watch", help="print events as they come (Ctrl-C ends)")
    watch.add_argument("--json", action="store_true", help="one JSON object per line, as --headless --json")
    watch.add_argument("--after", type=int, metavar="SEQ", help="start after this sequence number")
    arm = commands.add_parser("arm", help="arm a knob for the next response", epilog=_knob_help())
    arm.add_argument("knob")
    arm.add_argument("value")
    scope = arm.add_mutually_exclusive_group()
    scope.add_argument("--once", action="store_true", help="the next response only (the default)")
    scope.add_argument("--sticky", action="store_true", help="every response until disarmed")
    arm.add_argument(
        "--unseen",
        action="store_true",
        help="with --node: arm for a node that has never queried this provider (refused otherwise)",
    )
    for sub in (arm, disarm := commands.add_parser("disarm", help="disarm a knob")):
        sub.add_argument("--node", type=_node, metavar="ID", help="only for this requestor")
        sub.add_argument("--fabric", type=int, default=1, metavar="N", help="its fabric index (default 1)")
    disarm.add_argument("knob")
    commands.add_parser("clear", help="disarm every knob")
    for verb in ("pause", "resume", "abort"):
        sub = commands.add_parser(verb, help=f"{verb} a running BDX transfer")
        sub.add_argument("transfer", type=int)
        if verb == "abort":
            sub.add_argument(
                "--status",
                type=_status_name,
                default=BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR,
                help="the BDX StatusReport to send (default transfer-failed-unknown-error)",
            )
    throttle = commands.add_parser("throttle", help="pace a transfer: SECONDS per block, or off")
    throttle.add_argument("transfer", type=int)
    throttle.add_argument("seconds")
    window = commands.add_parser("open-window", help="open our commissioning window")
    window.add_argument("--seconds", type=int, default=900)
    commands.add_parser("reload", help="load the image files again")
    pipe = commands.add_parser(
        "app-pipe", help="what the SDK app's out-of-band pipe answers (JSON): " + ", ".join(APP_PIPE_QUERIES)
    )
    pipe.add_argument("query", choices=APP_PIPE_QUERIES)
    history = commands.add_parser("history", help="the update history")
    history.add_argument("--node", type=_node, metavar="ID")
    history.add_argument("--last", type=int, default=50, metavar="N")
    history.add_argument("--json", action="store_true")
    trace = commands.add_parser("trace", help="start or stop writing every message to a file (JSON lines)")
    trace.add_argument("action", choices=("start", "stop"))
    trace.add_argument(
        "file",
        nargs="?",
        help="with start: a new file name in the provider's trace folder "
        "(its --trace-dir; default traces/ in its state directory)",
    )
    commission = commands.add_parser("commission", help="commission a device onto the bench fabric")
    commission.add_argument("code", metavar="CODE[@HOST[:PORT]]")
    commission.add_argument(
        "--ble",
        metavar="ADDRESS",
        default="",
        help="the BLE address of a device the provider hears now (its Add-device list); needs --network",
    )
    commission.add_argument(
        "--network", metavar="NAME", default="", help="with --ble: a network kept by `ota-provider networks`"
    )
    wait = commands.add_parser("wait-for", help="wait for an event (exit 0 when it happens, 1 on timeout)")
    wait.add_argument(
        "event", type=_event_name, help="an event name as 'watch --json' prints it, e.g. TransferFinished"
    )
    wait.add_argument("--node", type=_node, metavar="ID")
    wait.add_argument("--timeout", dest="wait_timeout", type=float, default=60.0, metavar="S")
    wait.add_argument("--json", action="store_true")
    return parser


def ctl_main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    where = args.socket or default_socket(args.storage)
    token_file = args.token_file or (args.storage / TOKEN_FILE if args.storage else None)
    if where.startswith("tcp:") and token_file is None:
        token_file = default_storage() / TOKEN_FILE
    try:
        with ProviderClient.attach(
            where,
            token_file=token_file if where.startswith("tcp:") else None,
            timeout=args.timeout,
            subscribe=args.verb == "wait-for",
        ) as provider:
            return _run(provider, args)
    except Refused as exc:
        print(f"{PROG} ctl: refused: {exc}", file=sys.stderr)
        return 1
    except (ControlClientError, TimeoutError) as exc:
        print(f"{PROG} ctl: error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # a knob value, before anything was sent
        print(f"{PROG} ctl: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1


def _said(result: Result) -> int:
    print(result.message)
    return 0


def _arm(provider: ProviderClient, args: argparse.Namespace) -> Result:
    if args.unseen and args.node is None:
        raise ValueError("--unseen goes with --node ID (the node that has not queried yet)")
    return provider.arm(
        args.knob, args.value, sticky=args.sticky, node=args.node, fabric=args.fabric, unseen=args.unseen
    )


def _throttle(provider: ProviderClient, args: argparse.Namespace) -> Result:
    seconds = None if args.seconds in ("off", "0") else _seconds(args.seconds)
    return provider.throttle(args.transfer, seconds)


def _trace(provider: ProviderClient, args: argparse.Namespace) -> Result:
    if args.action == "start" and args.file is None:
        raise ValueError("trace start needs the FILE to write")
    return provider.trace_start(args.file) if args.action == "start" else provider.trace_stop()


def _app_pipe(provider: ProviderClient, args: argparse.Namespace) -> int:
    result = provider.query_app_pipe(args.query)
    print(json.dumps(result.payload))
    return 0


def _history(provider: ProviderClient, args: argparse.Namespace) -> int:
    rows = provider.history(args.last, args.node)
    if args.json:
        sys.stdout.write("".join(json.dumps(row.as_json()) + "\n" for row in rows))
    else:
        sys.stdout.write(rows_as_text(list(rows)) or "no history yet\n")
    return 0


def _run(provider: ProviderClient, args: argparse.Namespace) -> int:
    if (change := _CHANGES.get(args.verb)) is not None:
        return _said(change(provider, args))
    return _READS[args.verb](provider, args)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise ValueError(f"throttle: {text!r} is not a number of seconds per block from 0 to 3600, or off")
    return value


def _status(provider: ProviderClient, as_json: bool) -> int:
    snapshot, engine = provider.snapshot(), provider.engine
    if as_json:
        print(json.dumps({"engine": engine, "snapshot": event_to_json(snapshot)["data"]}))
        return 0
    manual_code = SetupPayload.format_manual_code(str(engine.get("manualCode", "")))  # as printed on labels
    print(
        f"ota-provider {engine.get('version')} (pid {engine.get('pid')}), UDP port {engine.get('port')}, state in "
        f"{engine.get('storage')}; manual code {manual_code}"
    )
    print(
        f"transfers: {len(snapshot.transfers)} running, {snapshot.transfers_finished} finished, "
        f"{snapshot.transfers_failed} failed; {snapshot.bytes_sent_total} bytes sent"
    )
    for t in snapshot.transfers:
        state = "paused" if t.paused else (f"paced {t.throttle:g} s" if t.throttle else "running")
        print(
            f"  #{t.id} node 0x{t.peer.node_id:X} (fabric {t.peer.fabric_index}) image {t.designator}: "
            f"{t.bytes_sent}/{t.total} bytes, {state}"
        )
    print("armed: " + ("nothing" if not snapshot.armed else ""))
    for armed in snapshot.armed:
        print(f"  {armed_text(armed)}")
    return 0


def _images(provider: ProviderClient, as_json: bool) -> int:
    snapshot = provider.snapshot()
    if as_json:
        for image in snapshot.images:
            print(json.dumps({"image": to_data(image)}))
        for download in snapshot.ledger_downloads:
            print(json.dumps({"ledgerDownload": to_data(download)}))
        return 0
    rows = [IMAGE_COLUMNS, *(image_cells(image) for image in snapshot.images)]
    rows += [download_cells(d) for d in snapshot.ledger_downloads if d.state != DownloadState.READY]
    print(*aligned(rows), sep="\n")
    return 0


def _watch(provider: ProviderClient, args: argparse.Namespace) -> int:
    printer = LinePrinter(sys.stdout, args.json)
    missed = provider.subscribe(args.after)
    if missed:
        print(
            f"{PROG} ctl: {plural(missed, 'event')} after {args.after} are no longer kept by the provider",
            file=sys.stderr,
        )
    while True:
        event = provider.next_event(timeout=3600)
        if event is not None and event.logged:
            numbered = {"seq": event.seq} if args.json else {}
            printer.event(event.name, event_text(event), at=event.at, **event_fields(event), **numbered)


# What wait-for takes: the names the headless lines and ``wait_for`` use (``QueryImageResponse``),
# or an event's class name as the control socket sends it (``QueryImageAnswered``).
_EVENT_NAMES = {cls.name: cls.name for cls in EVENTS.values()} | {name: cls.name for name, cls in EVENTS.items()}


def _event_name(text: str) -> str:
    if text not in _EVENT_NAMES:
        names = sorted({cls.name for cls in EVENTS.values()})
        raise argparse.ArgumentTypeError(f"unknown event {text!r}: one of {', '.join(names)}")
    return _EVENT_NAMES[text]


def _wait(provider: ProviderClient, args: argparse.Namespace) -> int:
    event = provider.wait_for(args.event, node=args.node, timeout=args.wait_timeout)
    LinePrinter(sys.stdout, args.json).event(event.name, event_text(event), at=event.at, **event_fields(event))
    return 0


# The verbs that change the provider: each says what the engine did.
_CHANGES: dict[str, Callable[[ProviderClient, argparse.Namespace], Result]] = {
    "arm": _arm,
    "disarm": lambda provider, args: provider.disarm(args.knob, node=args.node, fabric=args.fabric),
    "clear": lambda provider, args: provider.clear(),
    "pause": lambda provider, args: provider.pause(args.transfer),
    "resume": lambda provider, args: provider.resume(args.transfer),
    "abort": lambda provider, args: provider.abort(args.transfer, args.status),
    "throttle": _throttle,
    "open-window": lambda provider, args: provider.open_window(args.seconds),
    "reload": lambda provider, args: provider.reload(),
    "commission": lambda provider, args: provider.commission(args.code, ble=args.ble, network=args.network),
    "trace": _trace,
}
# The verbs that read: each prints what it read.
_READS: dict[str, Callable[[ProviderClient, argparse.Namespace], int]] = {
    "status": lambda provider, args: _status(provider, args.json),
    "images": lambda provider, args: _images(provider, args.json),
    "watch": _watch,
    "wait-for": _wait,
    "history": _history,
    "app-pipe": _app_pipe,
}
