"""Image catalog: the SDK's image-list format (OTA_PROVIDER_SPEC.md §1.3) and selection rules."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ota_provider.core.ota.catalog import CatalogError, ImageCatalog, strip_json_comments
from ota_provider.core.ota.image import HeaderFields, create_image
from tests.helpers.fuzzing import assert_only_raises, fuzz_inputs
from tests.helpers.samples import SAMPLES


def make_image(folder: Path, name: str, *, vid=0xFFF1, pid=0x8000, version=2, version_string=None, **extra) -> Path:
    raw = folder / f"{name}.bin"
    raw.write_bytes(f"payload of {name}".encode())
    out = folder / name
    create_image([raw], out, HeaderFields(vid, pid, version, version_string or f"{version}.0", **extra), "sha256")
    return out


def entry(path: Path, *, vid=0xFFF1, pid=0x8000, version=2, version_string=None, **extra) -> dict:
    return {
        "vendorId": vid,
        "productId": pid,
        "softwareVersion": version,
        "softwareVersionString": version_string or f"{version}.0",
        "softwareVersionValid": True,
        "minApplicableSoftwareVersion": 0,
        "maxApplicableSoftwareVersion": 1000,
        "otaURL": str(path),
        **extra,
    }


def write_list(folder: Path, entries: list, name="list.json") -> Path:
    path = folder / name
    path.write_text(json.dumps({"deviceSoftwareVersionModel": entries}, indent=2))
    return path


def test_bundled_sample_list_loads():
    catalog = ImageCatalog.from_list(SAMPLES / "image-list.json")
    assert [e.software_version for e in catalog.entries] == [1, 2, 3]
    assert [e.designator for e in catalog.entries] == ["0", "1", "2"]
    assert all(e.path.exists() for e in catalog.entries)


def test_comments_and_unknown_keys_and_sdk_defaults(tmp_path):
    # An entry with only otaURL takes the SDK defaults: VID 1, PID 1, version 10, "1.0.0", range 0..1000.
    image = make_image(tmp_path, "defaults.ota", vid=1, pid=1, version=10, version_string="1.0.0")
    text = f"""
    // a line comment
    {{ /* block
          comment */
      "deviceSoftwareVersionModel": [
        {{ "otaURL": "{image}", "releaseNotes": "https://example.com/a//b", "somethingNew": [1, 2] }}
      ],
      "extraTopLevel": "ignored // not a comment"
    }}
    """
    path = tmp_path / "list.json"
    path.write_text(text)
    catalog = ImageCatalog.from_list(path)
    (only,) = catalog.entries
    assert (only.vendor_id, only.product_id, only.software_version) == (1, 1, 10)
    assert (only.min_applicable_version, only.max_applicable_version) == (0, 1000)
    assert catalog.select(1, 1, 9).entry is only
    assert catalog.select(1, 1, 1001).entry is None


def test_strip_json_comments_keeps_strings_and_lines():
    text = '{"a": "x//y", /* c\n c */ "b": "/*z*/" // end\n}'
    assert json.loads(strip_json_comments(text)) == {"a": "x//y", "b": "/*z*/"}
    assert strip_json_comments(text).count("\n") == text.count("\n")
    assert json.loads(strip_json_comments(r'{"q": "a\"//b"}')) == {"q": 'a"//b'}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("vendorId", 0xFFF2, "entry 0: vendorId is 65522 but the image header of .* says 65521"),
        ("productId", 0x8001, "entry 0: productId is 32769"),
        ("softwareVersion", 3, "entry 0: softwareVersion is 3 but .* says 2"),
        ("softwareVersionString", "2.0.1", 'entry 0: softwareVersionString is "2.0.1" but .* says "2.0"'),
        ("vendorId", -1, "entry 0: vendorId must be an integer 0..65535"),
        ("softwareVersion", "2", "entry 0: softwareVersion must be an integer"),
        ("softwareVersionValid", "yes", "softwareVersionValid must be true or false"),
        ("softwareVersionString", "", "softwareVersionString must be a string of 1..64 bytes"),
        ("otaURL", "https://test.com", "otaURL must be the path of a local .ota file"),
    ],
)
def test_entry_fields_are_checked_against_the_header(tmp_path, field, value, message):
    image = make_image(tmp_path, "a.ota")
    good = entry(image)
    path = write_list(tmp_path, [good, {**good, field: value}])
    # The bad entry is the second one; rewrite the message for index 1.
    with pytest.raises(CatalogError, match=message.replace("entry 0", "entry 1")):
        ImageCatalog.from_list(path)


def test_min_max_must_match_the_header_when_present(tmp_path):
    image = make_image(tmp_path, "a.ota", version=5, min_version=2, max_version=4)
    with pytest.raises(CatalogError, match=r"entry 0: minApplicableSoftwareVersion is 0 but .* says 2"):
        ImageCatalog.from_list(write_list(tmp_path, [entry(image, version=5)]))
    with pytest.raises(CatalogError, match=r"entry 0: maxApplicableSoftwareVersion is 1000 but .* says 4"):
        ImageCatalog.from_list(write_list(tmp_path, [entry(image, version=5, minApplicableSoftwareVersion=2)]))
    catalog = ImageCatalog.from_list(
        write_list(tmp_path, [entry(image, version=5, minApplicableSoftwareVersion=2, maxApplicableSoftwareVersion=4)])
    )
    assert catalog.entries[0].max_applicable_version == 4


def test_missing_and_corrupt_files_name_the_entry(tmp_path):
    image = make_image(tmp_path, "a.ota")
    with pytest.raises(CatalogError, match=r"entry 0 \(.*nope.ota\): cannot read .*No such file"):
        ImageCatalog.from_list(write_list(tmp_path, [entry(tmp_path / "nope.ota")]))
    data = bytearray(image.read_bytes())
    data[-1] ^= 0xFF
    image.write_bytes(bytes(data))
    with pytest.raises(CatalogError, match=r"entry 0 .*payload digest mismatch"):
        ImageCatalog.from_list(write_list(tmp_path, [entry(image)]))
    image.write_bytes(bytes(data[:50]))
    with pytest.raises(CatalogError, match=r"entry 0 .*truncated"):
        ImageCatalog.from_list(write_list(tmp_path, [entry(image)]))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"deviceSoftwareVersionModel": [}', "invalid JSON at line 1 column 33"),
        ('\n\n{"deviceSoftwareVersionModel": 5}', 'must be an object with a "deviceSoftwareVersionModel" array'),
        ("[]", "must be an object"),
        ('{"deviceSoftwareVersionModel": [7]}', "entry 0: must be an object, not int"),
        ('{"a": 1 /* never closed', "unterminated /\\* comment"),
        ('{"deviceSoftwareVersionModel": [],}', "invalid JSON"),
    ],
)
def test_bad_list_files(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(CatalogError, match=message):
        ImageCatalog.from_list(path)


def test_duplicate_versions_are_rejected(tmp_path):
    a = make_image(tmp_path, "a.ota")
    b = make_image(tmp_path, "b.ota")
    with pytest.raises(CatalogError, match="entries 0 and 1 both offer VID 0xFFF1 PID 0x8000 version 2"):
        ImageCatalog.from_list(write_list(tmp_path, [entry(a), entry(b)]))


@pytest.fixture
def catalog(tmp_path) -> ImageCatalog:
    images = [
        entry(make_image(tmp_path, "v2.ota", version=2), version=2, maxApplicableSoftwareVersion=1),
        entry(make_image(tmp_path, "v3.ota", version=3), version=3, minApplicableSoftwareVersion=1),
        entry(make_image(tmp_path, "v4.ota", version=4), version=4, softwareVersionValid=False),
        entry(make_image(tmp_path, "v5.ota", version=5), version=5, minApplicableSoftwareVersion=3),
        entry(make_image(tmp_path, "other.ota", pid=0x8001, version=9), pid=0x8001, version=9),
        entry(
            make_image(tmp_path, "hw.ota", pid=0x8002, version=2),
            pid=0x8002,
            version=2,
            minHardwareVersion=2,
            maxHardwareVersion=3,
        ),
    ]
    return ImageCatalog.from_list(write_list(tmp_path, images))


@pytest.mark.parametrize(
    ("vid", "pid", "current", "hw", "expected", "reason"),
    [
        (0xFFF1, 0x8000, 0, None, 2, "offering #0"),  # v2 applies to 0..1; v3 needs >= 1
        (0xFFF1, 0x8000, 1, None, 3, "offering #1"),  # v2 and v3 qualify: the highest wins
        (0xFFF1, 0x8000, 2, None, 3, "offering"),  # v5 needs >= 3; v4 is not valid
        (0xFFF1, 0x8000, 3, None, 5, "offering #3"),  # v4 skipped (invalid), v5 applies from 3
        (0xFFF1, 0x8000, 5, None, None, "up to date: version 5, newest image is version 5"),
        (0xFFF1, 0x8000, 7, None, None, "up to date"),
        (0xFFF1, 0x8001, 1, None, 9, "offering"),
        (0xFFF2, 0x8000, 1, None, None, "no image for VID 0xFFF2 PID 0x8000"),  # VID checked, unlike the SDK
        (0xFFF1, 0x9999, 1, None, None, "no image for VID 0xFFF1 PID 0x9999"),
        (0xFFF1, 0x8002, 1, None, None, "needs a HardwareVersion"),
        (0xFFF1, 0x8002, 1, 1, None, "needs hardware version >= 2"),
        (0xFFF1, 0x8002, 1, 2, 2, "offering"),
        (0xFFF1, 0x8002, 1, 4, None, "needs hardware version <= 3"),
    ],
)
def test_selection_rules(catalog, vid, pid, current, hw, expected, reason):
    selection = catalog.select(vid, pid, current, hw)
    got = selection.entry.software_version if selection.entry else None
    assert got == expected
    assert reason in selection.reason


def test_selection_explains_each_rejection(catalog):
    reason = catalog.select(0xFFF1, 0x8002, 1, 9).reason
    assert "#5 hw.ota" in reason and "needs hardware version <= 3" in reason


def test_designators_follow_list_order(catalog):
    assert catalog.entry_for_designator("3").software_version == 5
    assert catalog.entry_for_designator("6") is None
    assert catalog.entry_for_designator("../etc/passwd") is None


def test_single_file_mode_checks_vid_pid_and_version(tmp_path):
    image = make_image(tmp_path, "one.ota", version=4, min_version=2, max_version=3)
    catalog = ImageCatalog.from_file(image)
    (only,) = catalog.entries
    assert only.designator == "0"
    assert catalog.select(0xFFF1, 0x8000, 2).entry is only
    assert catalog.select(0xFFF1, 0x8000, 1).entry is None  # below the header's min
    assert catalog.select(0xFFF1, 0x8000, 4).entry is None  # not newer
    assert catalog.select(0xFFF2, 0x8000, 2).entry is None


def test_load_needs_exactly_one_source(tmp_path):
    with pytest.raises(CatalogError, match="exactly one"):
        ImageCatalog.load()
    with pytest.raises(CatalogError, match="exactly one"):
        ImageCatalog.load(filepath="a", image_list="b")


def _bump_mtime(path: Path) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_single_file_is_reloaded_when_it_changes(tmp_path):
    image = make_image(tmp_path, "fw.ota", version=2)
    catalog = ImageCatalog.from_file(image)
    assert catalog.reload_if_changed() is catalog
    make_image(tmp_path, "fw.ota", version=3)
    _bump_mtime(image)
    reloaded = catalog.reload_if_changed()
    assert reloaded is not catalog
    assert reloaded.entries[0].software_version == 3
    image.write_bytes(b"garbage")
    with pytest.raises(CatalogError, match=r"not an OTA image|truncated"):
        reloaded.reload_if_changed()
    assert reloaded.entries[0].software_version == 3  # the old catalog is untouched


def test_list_is_reloaded_when_the_list_or_an_image_changes(tmp_path):
    a = make_image(tmp_path, "a.ota", version=2)
    path = write_list(tmp_path, [entry(a)])
    catalog = ImageCatalog.from_list(path)
    b = make_image(tmp_path, "b.ota", version=3)
    write_list(tmp_path, [entry(a), entry(b, version=3)])
    _bump_mtime(path)
    assert [e.software_version for e in catalog.reload_if_changed().entries] == [2, 3]


def test_relative_paths_resolve_against_the_list_folder(tmp_path, monkeypatch):
    make_image(tmp_path, "rel.ota")
    path = write_list(tmp_path, [entry(Path("rel.ota"))])
    monkeypatch.chdir("/")
    assert ImageCatalog.from_list(path).entries[0].path == tmp_path / "rel.ota"


def test_fuzz_image_list_parser_raises_only_catalog_error(tmp_path):
    image = make_image(tmp_path, "f.ota")
    corpus = [
        json.dumps({"deviceSoftwareVersionModel": [entry(image)]}).encode(),
        (SAMPLES / "image-list.json").read_bytes(),
    ]
    list_path = SAMPLES / "image-list.json"

    def parse(data: bytes) -> object:
        return ImageCatalog.from_list_text(data.decode("utf-8", "replace"), list_path, verify=False)

    inputs = fuzz_inputs(corpus, count=20_000, seed=0xCA7A, max_random_len=200)
    assert assert_only_raises(parse, CatalogError, inputs) == 20_000
