"""``ota-image``: SDK-compatible arguments, one-line errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ota_provider.core.cli.image import main
from tests.helpers.images import PAYLOAD, hand_built_image


@pytest.fixture
def payload(tmp_path):
    path = tmp_path / "fw.bin"
    path.write_bytes(PAYLOAD)
    return path


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_create_with_sdk_arguments_gives_the_sdk_layout(tmp_path, payload, capsys):
    out_file = tmp_path / "fw.ota"
    code, out, err = run(
        capsys,
        "create",
        "-v",
        "0xDEAD",
        "-p",
        "0xBEEF",
        "-vn",
        "2",
        "-vs",
        "2.0",
        "-da",
        "sha256",
        str(payload),
        str(out_file),
    )
    assert (code, err) == (0, "")
    assert out_file.read_bytes() == hand_built_image()
    assert "version 2 (2.0)" in out


def test_argument_file_prefix(tmp_path, payload, capsys):
    args = tmp_path / "args.txt"
    args.write_text("\n".join(["create", "-v", "57005", "-p", "48879", "-vn", "2", "-vs", "2.0", "-da", "sha256"]))
    out_file = tmp_path / "fw.ota"
    code, _, _ = run(capsys, f"@{args}", str(payload), str(out_file))
    assert code == 0
    assert out_file.read_bytes() == hand_built_image()


def test_show_and_json(tmp_path, capsys):
    image = tmp_path / "fw.ota"
    image.write_bytes(hand_built_image())
    code, out, _ = run(capsys, "show", str(image))
    assert code == 0
    assert out.splitlines()[:3] == ["Magic: 1beef11e", "Total Size: 90", "Header Size: 60"]
    code, out, _ = run(capsys, "show", "--json", str(image))
    data = json.loads(out)
    assert (data["vendorId"], data["softwareVersionString"], data["digestType"]) == (0xDEAD, "2.0", "sha256")


def test_verify_extract_change_header(tmp_path, capsys):
    image = tmp_path / "fw.ota"
    image.write_bytes(hand_built_image())
    assert run(capsys, "verify", str(image))[0] == 0
    assert run(capsys, "extract", str(image), str(tmp_path / "p"))[0] == 0
    assert (tmp_path / "p").read_bytes() == PAYLOAD
    for spelling in ("change-header", "change_header"):
        code, out, _ = run(capsys, spelling, "-vn", "3", "-vs", "3.0", str(image), str(tmp_path / "c.ota"))
        assert code == 0 and "version 3 (3.0)" in out
    assert run(capsys, "verify", str(tmp_path / "c.ota"))[0] == 0


@pytest.mark.parametrize("cut", [5, 30, 89])
def test_truncated_image_is_one_line_and_exit_1(tmp_path, capsys, cut):
    image = tmp_path / "cut.ota"
    image.write_bytes(hand_built_image()[:cut])
    for command in ("show", "verify"):
        code, out, err = run(capsys, command, str(image))
        assert code == 1
        assert out == ""
        assert err.count("\n") == 1 and err.startswith("ota-image: error:") and "truncated" in err


def test_corrupt_digest_is_reported(tmp_path, capsys):
    image = tmp_path / "bad.ota"
    image.write_bytes(hand_built_image()[:-1] + b"?")
    code, _, err = run(capsys, "verify", str(image))
    assert code == 1 and "digest mismatch" in err


def test_create_validation_error(tmp_path, payload, capsys):
    code, _, err = run(
        capsys,
        "create",
        "-v",
        "0",
        "-p",
        "1",
        "-vn",
        "1",
        "-vs",
        "1",
        "-da",
        "sha256",
        str(payload),
        str(tmp_path / "o"),
    )
    assert code == 1 and err == "ota-image: error: Vendor ID is zero\n"


def test_missing_input_file(tmp_path, capsys):
    code, _, err = run(
        capsys,
        "create",
        "-v",
        "1",
        "-p",
        "1",
        "-vn",
        "1",
        "-vs",
        "1",
        "-da",
        "sha256",
        str(tmp_path / "nope"),
        str(tmp_path / "o"),
    )
    assert code == 1 and "No such file" in err and err.count("\n") == 1


def test_bad_integer_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["create", "-v", "zz", "-p", "1", "-vn", "1", "-vs", "1", "-da", "sha256", "a", "b"])
    assert exc.value.code == 2
    assert "invalid integer 'zz'" in capsys.readouterr().err


def test_console_script_prints_no_traceback(tmp_path):
    image = tmp_path / "junk.ota"
    image.write_bytes(b"\x00" * 100)
    result = subprocess.run(
        [sys.executable, "-m", "ota_provider.core.cli.image", "show", str(image)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().endswith("expected 0x1BEEF11E")
