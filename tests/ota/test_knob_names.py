"""The one table of knob names: every name reads its value from a word and from JSON, round trips,
and a bad value or name is refused in one line."""

from __future__ import annotations

import pytest

from ota_provider.core.codec.status_report import BdxStatus
from ota_provider.core.ota.knob_names import KNOB_NAMES, knob_value_to_wire, parse_knob, wire_name
from ota_provider.core.ota.policy import FAULTS, Knob, OtaPolicy
from ota_provider.core.ota.types import ApplyUpdateAction, QueryImageStatus, UserConsentState

WORDS = {
    "queryImageStatus": ("busy", QueryImageStatus.BUSY),
    "delayedQueryActionTimeSec": ("45", 45),
    "userConsentNeeded": ("true", True),
    "userConsentState": ("deferred", UserConsentState.DEFERRED),
    "applyUpdateAction": ("awaitNextAction", ApplyUpdateAction.AWAIT_NEXT_ACTION),
    "delayedApplyActionTimeSec": ("0x10", 16),
    "ignoreQueryImage": ("2", 2),
    "ignoreApplyUpdate": ("1", 1),
    "forcedImage": ("1", "1"),
    "dropBlock": ("7", 7),
    "delayBlock": ("3,2.5", (3, 2.5)),
    "corruptBlock": ("4", 4),
    "endTransfer": ("5,0x1F", (5, BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR)),
}


def test_every_knob_has_one_name_and_the_sdk_names_are_the_sdk_apps_long_flags():
    assert {k.knob for k in KNOB_NAMES} == set(Knob) and len(WORDS) == len(KNOB_NAMES)
    for knob in FAULTS:
        assert wire_name(knob) in ("dropBlock", "delayBlock", "corruptBlock", "endTransfer")


@pytest.mark.parametrize("name", sorted(WORDS))
def test_a_word_and_its_json_read_to_the_same_value_the_policy_accepts(name):
    word, expected = WORDS[name]
    knob, value = parse_knob(name, word)
    assert value == expected
    assert parse_knob(name, knob_value_to_wire(knob, value)) == (knob, value)
    OtaPolicy().arm(knob, value)  # the policy's own type check agrees


@pytest.mark.parametrize(
    ("name", "raw", "says"),
    [
        ("queryImageStatus", "bussy", "one of updateAvailable, busy, updateNotAvailable"),
        ("delayedQueryActionTimeSec", "-1", "is a number"),
        ("ignoreQueryImage", 2**33, "must be 0..4294967295"),
        ("userConsentNeeded", "maybe", "true or false"),
        ("delayBlock", "3", "BLOCK,VALUE"),
        ("endTransfer", "3,0x01", "not a BDX status code"),
        ("endTransfer", "3,sorry", "or a name (length-too-large"),
        ("nosuchKnob", "1", "unknown knob 'nosuchKnob': one of queryImageStatus"),
    ],
)
def test_a_bad_value_or_name_is_refused_in_words(name, raw, says):
    with pytest.raises(ValueError, match=None) as refused:
        parse_knob(name, raw)
    assert says in str(refused.value) and "\n" not in str(refused.value)
