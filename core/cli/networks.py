"""``ota-provider networks``: the Wi-Fi credentials and Thread datasets kept for devices
commissioned over BLE. A secret never comes from a flag's value (``ps`` shows those): a passphrase
is read from a file, an environment variable or a prompt, and is shown nowhere afterwards."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..commissioner.credential_store import CredentialStore
from ..commissioner.network_credentials import CredentialError, ThreadDataset, WifiCredentials, parse_thread_dataset
from ..storage.database import Database, StorageError
from .common import EXIT_USAGE, PROG, Parser, state_arguments, state_path

__all__ = ["SecretRefused", "network_for_commissioning", "networks_main", "read_secret"]

PASSPHRASE_ENV = "OTA_PROVIDER_WIFI_PASSPHRASE"
DATASET_ENV = "OTA_PROVIDER_THREAD_DATASET"


class SecretRefused(Exception):
    """A secret that could not be read: the message is the line to print."""


def read_secret(file: Path | None, env: str, prompt: str, what: str, flag: str) -> str:
    if file is not None:
        try:
            text = sys.stdin.read() if str(file) == "-" else file.read_text()
        except OSError as exc:
            raise SecretRefused(f"cannot read {flag} {file}: {exc.strerror}") from None
        return text.splitlines()[0] if text.strip() else ""
    if env in os.environ:
        return os.environ[env]
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    raise SecretRefused(f"no {what}: give {flag} FILE, ${env}, or run in a terminal to be asked (never a flag value)")


def networks_main(argv: Sequence[str]) -> int:
    parser = Parser(prog=f"{PROG} networks", description="Wi-Fi credentials and Thread datasets for BLE commissioning")
    state_arguments(parser)
    verbs = parser.add_subparsers(dest="verb", metavar="ACTION", required=True, parser_class=Parser)
    wifi = verbs.add_parser("add-wifi", help="keep a Wi-Fi network's credentials under NAME")
    wifi.add_argument("name")
    wifi.add_argument("--ssid", required=True)
    wifi.add_argument(
        "--passphrase-file", type=Path, metavar="FILE", help=f"first line of FILE ('-': stdin); or ${PASSPHRASE_ENV}"
    )
    wifi.add_argument("--open", action="store_true", help="an open network: no passphrase")
    thread = verbs.add_parser("add-thread", help="keep a Thread operational dataset under NAME")
    thread.add_argument("name")
    thread.add_argument(
        "--dataset-file", type=Path, metavar="FILE", help=f"hex (`ot-ctl dataset active -x`); or ${DATASET_ENV}"
    )
    listing = verbs.add_parser("list", help="the networks kept (never their secrets)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    remove = verbs.add_parser("remove", help="forget the network NAME")
    remove.add_argument("name")
    args = parser.parse_args(argv)
    try:
        db = Database(state_path(args))
    except StorageError as exc:
        print(f"{PROG} networks: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return _run(args, CredentialStore(db))
    except (CredentialError, SecretRefused) as exc:
        print(f"{PROG} networks: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        db.close()


def _run(args: argparse.Namespace, store: CredentialStore) -> int:
    if args.verb == "add-wifi":
        store.check_name(args.name)
        prompt = f"Wi-Fi passphrase for {args.ssid}: "
        what, flag = "Wi-Fi passphrase", "--passphrase-file"
        passphrase = "" if args.open else read_secret(args.passphrase_file, PASSPHRASE_ENV, prompt, what, flag)
        if not passphrase and not args.open:
            raise CredentialError("an empty passphrase: give --open for an open network")
        credentials = WifiCredentials(args.ssid.encode(), passphrase.encode())
        store.put(args.name, credentials)
        print(f"kept {args.name}: {credentials.describe()}")
        return 0
    if args.verb == "add-thread":
        store.check_name(args.name)
        text = read_secret(args.dataset_file, DATASET_ENV, "Thread dataset (hex): ", "Thread dataset", "--dataset-file")
        dataset = parse_thread_dataset(text)
        store.put(args.name, dataset)
        print(f"kept {args.name}: {dataset.describe()}")
        return 0
    if args.verb == "remove":
        if not store.remove(args.name):
            raise CredentialError(f"no network named {args.name!r} (ota-provider networks list)")
        print(f"forgot {args.name}")
        return 0
    networks = store.all()
    if args.json:
        sys.stdout.write("".join(json.dumps(n.as_json()) + "\n" for n in networks))
    elif not networks:
        print("no networks kept (ota-provider networks add-wifi NAME --ssid SSID, or add-thread NAME)")
    for network in [] if args.json else networks:
        print(f"{network.name}  {network.credentials.describe()}")
    return 0


def network_for_commissioning(
    store: CredentialStore, wifi: str | None, passphrase_file: Path | None, thread: str | None
) -> WifiCredentials | ThreadDataset | None:
    """``--wifi NAME|SSID`` / ``--thread-dataset NAME|HEX`` as credentials. A name kept by ``networks``
    is used as kept; a new SSID's passphrase is read as ``networks add-wifi`` reads it, and a new
    network is kept under its SSID (or ``thread-<XPAN>``) for the next device. CredentialError or
    SecretRefused: the line to print."""
    if wifi is not None:
        kept = store.get(wifi)
        if kept is not None and isinstance(kept.credentials, WifiCredentials) and passphrase_file is None:
            return kept.credentials
        prompt = f"Wi-Fi passphrase for {wifi}: "
        passphrase = read_secret(passphrase_file, PASSPHRASE_ENV, prompt, "Wi-Fi passphrase", "--wifi-passphrase-file")
        credentials = WifiCredentials(wifi.encode(), passphrase.encode())
        if CredentialStore.NAME.fullmatch(wifi):
            store.put(wifi, credentials)
        return credentials
    if thread is not None:
        kept = store.get(thread)
        if kept is not None and isinstance(kept.credentials, ThreadDataset):
            return kept.credentials
        dataset = parse_thread_dataset(thread)
        store.put(f"thread-{dataset.extended_pan_id.hex()}", dataset)
        return dataset
    return None
