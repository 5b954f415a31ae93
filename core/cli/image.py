"""``ota-image``: create, inspect, verify, extract and re-header Matter OTA images.

Arguments and output bytes match the SDK's ``src/app/ota_image_tool.py``;
``verify``, ``show --json`` and digest recomputation in ``change-header`` are additions.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ..config import installed_version
from ..ota.image import (
    CREATE_DIGEST_ALGORITHMS,
    HeaderFields,
    ImageError,
    ImageInfo,
    create_image,
    extract_payload,
    read_image_info,
    rewrite_header,
    verify_image,
)

PROG = "ota-image"


def _any_base_int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer {text!r} (use decimal or 0x-hex)") from None


def _add_header_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("-v", "--vendor-id", type=_any_base_int, required=required, help="Vendor ID")
    parser.add_argument("-p", "--product-id", type=_any_base_int, required=required, help="Product ID")
    parser.add_argument("-vn", "--version", type=_any_base_int, required=required, help="Software version (numeric)")
    parser.add_argument("-vs", "--version-str", required=required, help="Software version (string)")
    parser.add_argument(
        "-da", "--digest-algorithm", choices=CREATE_DIGEST_ALGORITHMS, required=required, help="Digest algorithm"
    )
    parser.add_argument(
        "-mi", "--min-version", type=_any_base_int, help="Minimum software version that can be updated to this image"
    )
    parser.add_argument(
        "-ma", "--max-version", type=_any_base_int, help="Maximum software version that can be updated to this image"
    )
    parser.add_argument("-rn", "--release-notes", help="Release note URL")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Matter OTA (Over-the-air update) image utility",
        fromfile_prefix_chars="@",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {installed_version()}")
    commands = parser.add_subparsers(dest="subcommand", title="valid subcommands", required=True)

    create = commands.add_parser("create", help="Create OTA image")
    _add_header_options(create, required=True)
    create.add_argument("input_files", nargs="+", help="Path to input image payload file")
    create.add_argument("output_file", help="Path to output image file")

    show = commands.add_parser("show", help="Show OTA image info")
    show.add_argument("image_file", help="Path to OTA image file")
    show.add_argument("--json", action="store_true", help="print the header as one JSON object")

    verify = commands.add_parser("verify", help="Check the image framing and payload digest")
    verify.add_argument("image_file", help="Path to OTA image file")

    extract = commands.add_parser("extract", help="Remove the OTA header from an image file")
    extract.add_argument("image_file", help="Path to OTA image file with header")
    extract.add_argument("output_file", help="Path to put the output file (no header)")

    change = commands.add_parser(
        "change-header",
        aliases=["change_header"],
        help="Change the specified values in the header",
        description="Change header fields. PayloadSize and the digest are recomputed and the fields validated "
        "as for create, unless --no-recompute asks for the SDK tool's behaviour.",
    )
    _add_header_options(change, required=False)
    change.add_argument(
        "--no-recompute",
        action="store_true",
        help="keep the old PayloadSize and digest and skip validation (what the SDK tool does)",
    )
    change.add_argument("image_file", help="Path to input OTA file")
    change.add_argument("output_file", help="Path to output OTA file")
    return parser


def _summary(path: str, info: ImageInfo) -> str:
    h = info.header
    return (
        f"{path}: VID 0x{h.vendor_id:04X} PID 0x{h.product_id:04X} version {h.software_version} "
        f"({h.software_version_string}), payload {h.payload_size} bytes, {h.image_digest_type.algorithm_name}"
    )


def _warn(warnings: Sequence[str]) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)


def _header_options(args: argparse.Namespace) -> dict[str, object]:
    return {
        "vendor_id": args.vendor_id,
        "product_id": args.product_id,
        "version": args.version,
        "version_string": args.version_str,
        "min_version": args.min_version,
        "max_version": args.max_version,
        "release_notes": args.release_notes,
    }


def run(args: argparse.Namespace) -> int:
    command = args.subcommand
    if command == "create":
        fields = HeaderFields(**_header_options(args))  # type: ignore[arg-type]
        info, warnings = create_image(args.input_files, args.output_file, fields, args.digest_algorithm)
        _warn(warnings)
        print(f"wrote {_summary(args.output_file, info)}")
    elif command == "show":
        info = read_image_info(args.image_file)
        if args.json:
            print(json.dumps(info.to_json()))
        else:
            print("\n".join(info.show_lines()))
    elif command == "verify":
        result = verify_image(args.image_file)
        print(f"OK {_summary(args.image_file, result.info)}, digest {result.digest.hex()}")
    elif command == "extract":
        size = extract_payload(args.image_file, args.output_file)
        print(f"wrote {args.output_file}: {size} payload bytes")
    else:  # change-header
        info, warnings = rewrite_header(
            args.image_file,
            args.output_file,
            _header_options(args),
            digest_algorithm=args.digest_algorithm,
            recompute=not args.no_recompute,
        )
        _warn(warnings)
        print(f"wrote {_summary(args.output_file, info)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except ImageError as exc:
        name = getattr(args, "image_file", None) or ""
        prefix = f"{Path(name).name}: " if name and name not in str(exc) else ""
        print(f"{PROG}: error: {prefix}{exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
