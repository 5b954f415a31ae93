"""The live knobs, and the SDK flags' "first response only" semantics (OTA_PROVIDER_SPEC.md §1.1, §2.2)."""

from __future__ import annotations

import pytest

from ota_provider.core.codec.status_report import BdxStatus
from ota_provider.core.config import ProviderConfig
from ota_provider.core.ota.policy import Knob, OtaPolicy, policy_from_sdk_flags
from ota_provider.core.ota.types import ApplyUpdateAction, QueryImageStatus, UserConsentState
from ota_provider.core.presentation.knobs import armed_text

A, B = (1, 0x1001), (1, 0x1002)
UA, BUSY, NA = QueryImageStatus.UPDATE_AVAILABLE, QueryImageStatus.BUSY, QueryImageStatus.NOT_AVAILABLE


def statuses(policy, n, peer=A, can_consent=False, available=True):
    return [
        policy.decide_query(peer, requestor_can_consent=can_consent, image_available=available).status for _ in range(n)
    ]


def test_defaults_offer_what_is_available():
    policy = OtaPolicy()
    assert statuses(policy, 2) == [UA, UA]
    assert statuses(policy, 1, available=False) == [NA]
    assert policy.decide_apply(A).action == ApplyUpdateAction.PROCEED


def test_one_shot_applies_to_the_next_response_only():
    policy = OtaPolicy()
    policy.arm(Knob.QUERY_STATUS, BUSY)
    policy.arm(Knob.QUERY_DELAY, 120)
    first = policy.decide_query(A, requestor_can_consent=False, image_available=True)
    assert (first.status, first.delayed_action_time) == (BUSY, 120)
    assert [u.knob for u in first.used] == [Knob.QUERY_STATUS, Knob.QUERY_DELAY]
    second = policy.decide_query(A, requestor_can_consent=False, image_available=True)
    assert (second.status, second.delayed_action_time, second.used) == (UA, 0, ())


def test_sticky_stays_until_disarmed():
    policy = OtaPolicy()
    policy.arm(Knob.QUERY_STATUS, BUSY, sticky=True)
    assert statuses(policy, 3) == [BUSY, BUSY, BUSY]
    policy.disarm(Knob.QUERY_STATUS)
    assert statuses(policy, 1) == [UA]


def test_a_knob_for_one_node_leaves_the_others_alone_and_wins_over_the_general_one():
    policy = OtaPolicy()
    policy.arm(Knob.QUERY_STATUS, NA, sticky=True)
    policy.arm(Knob.QUERY_STATUS, BUSY, target=B)
    assert statuses(policy, 1, peer=A) == [NA]
    assert statuses(policy, 1, peer=B) == [BUSY]
    assert statuses(policy, 1, peer=B) == [NA]  # the one-shot for B is used; the general one remains


def test_an_sdk_flags_delay_is_sent_only_with_busy_but_consumed_by_the_first_response():
    policy = OtaPolicy()
    policy.arm(Knob.QUERY_DELAY, 60, first_response=True)  # -t 60: the SDK app's first-response value
    first = policy.decide_query(A, requestor_can_consent=False, image_available=True)
    assert (first.status, first.delayed_action_time) == (UA, 0)
    assert policy.armed == []


def test_ignored_queries_do_not_consume_one_shot_values():
    # SDK: -x 2 -q busy -> two queries unanswered, then Busy, then UpdateAvailable.
    policy = policy_from_sdk_flags(ProviderConfig(ignore_query_image=2, query_image_status=BUSY))
    decisions = [policy.decide_query(A, requestor_can_consent=False, image_available=True) for _ in range(4)]
    assert [d.ignored for d in decisions] == [True, True, False, False]
    assert [d.status for d in decisions[2:]] == [BUSY, UA]


def test_sdk_busy_then_denied_consent_then_available():
    # §2.2 step 3.6: -q busy -u denied -> Busy, NotAvailable (consent asked the first time), UpdateAvailable.
    policy = policy_from_sdk_flags(ProviderConfig(query_image_status=BUSY, user_consent_state=UserConsentState.DENIED))
    assert statuses(policy, 3) == [BUSY, NA, UA]


def test_persist_query_image_status_keeps_the_status_and_its_delay_for_every_response():
    # The SDK app's --persistQueryImageStatus (its TestOTAProviderExample.cpp, 2026): Busy with its
    # DelayedActionTime, or NotAvailable, answered to every query; without it, the first only.
    busy = policy_from_sdk_flags(
        ProviderConfig(query_image_status=BUSY, delayed_query_action_time=60, persist_query_image_status=True)
    )
    answers = [busy.decide_query(A, requestor_can_consent=False, image_available=True) for _ in range(3)]
    assert [(d.status, d.delayed_action_time) for d in answers] == [(BUSY, 60)] * 3
    assert statuses(busy, 1, peer=B) == [BUSY]  # every requestor, not one
    kept = policy_from_sdk_flags(ProviderConfig(query_image_status=NA, persist_query_image_status=True))
    assert statuses(kept, 3) == [NA, NA, NA]
    once = policy_from_sdk_flags(ProviderConfig(query_image_status=NA))
    assert statuses(once, 2) == [NA, UA]


def test_deferred_consent_maps_to_busy_and_granted_to_available():
    policy = OtaPolicy()
    policy.arm(Knob.CONSENT_STATE, UserConsentState.DEFERRED)
    assert statuses(policy, 2) == [BUSY, UA]
    policy.arm(Knob.CONSENT_STATE, UserConsentState.GRANTED, sticky=True)
    assert statuses(policy, 2) == [UA, UA]


def test_consent_needed_only_when_the_requestor_can_consent_and_then_the_provider_does_not_ask():
    policy = policy_from_sdk_flags(ProviderConfig(user_consent_needed=True, user_consent_state=UserConsentState.DENIED))
    asked_user = policy.decide_query(A, requestor_can_consent=True, image_available=True)
    assert (asked_user.status, asked_user.user_consent_needed, asked_user.consent_consulted) == (UA, True, None)
    cannot = policy.decide_query(A, requestor_can_consent=False, image_available=True)
    assert (cannot.status, cannot.user_consent_needed) == (NA, False)  # now the provider's -u is asked


def test_apply_flags_first_response_only_and_ignore_does_not_consume():
    policy = policy_from_sdk_flags(
        ProviderConfig(
            apply_update_action=ApplyUpdateAction.AWAIT_NEXT_ACTION, delayed_apply_action_time=30, ignore_apply_update=1
        )
    )
    assert policy.decide_apply(A).ignored
    first = policy.decide_apply(A)
    assert (first.action, first.delayed_action_time) == (ApplyUpdateAction.AWAIT_NEXT_ACTION, 30)
    second = policy.decide_apply(A)
    assert (second.action, second.delayed_action_time) == (ApplyUpdateAction.PROCEED, 0)


def test_ignore_counts_down_per_node():
    policy = OtaPolicy()
    policy.arm(Knob.IGNORE_QUERY, 2, target=A)
    assert [policy.decide_query(B, requestor_can_consent=False, image_available=True).ignored] == [False]
    assert [policy.decide_query(A, requestor_can_consent=False, image_available=True).ignored for _ in range(3)] == [
        True,
        True,
        False,
    ]


def test_forced_image_is_offered_even_when_nothing_qualifies():
    policy = OtaPolicy()
    policy.arm(Knob.FORCED_DESIGNATOR, "0")
    decision = policy.decide_query(A, requestor_can_consent=False, image_available=False)
    assert (decision.status, decision.forced_designator) == (UA, "0")


@pytest.mark.parametrize(
    ("knob", "value"),
    [
        (Knob.QUERY_STATUS, "busy"),
        (Knob.QUERY_DELAY, -1),
        (Knob.QUERY_DELAY, True),
        (Knob.IGNORE_QUERY, 1 << 40),
        (Knob.DELAY_BLOCK, (1,)),
        (Knob.DELAY_BLOCK, (1, -2)),
        (Knob.END_TRANSFER, (1, 2)),
        (Knob.DROP_BLOCK, "3"),
    ],
)
def test_bad_values_are_refused(knob, value):
    with pytest.raises(ValueError):
        OtaPolicy().arm(knob, value)


def test_armed_text_says_what_is_armed_for_whom():
    armed = OtaPolicy().arm(Knob.APPLY_ACTION, ApplyUpdateAction.DISCONTINUE, sticky=True, target=B)
    assert armed_text(armed) == "ApplyUpdate action discontinue (sticky, node 1002)"
    on_second_fabric = OtaPolicy().arm(Knob.END_TRANSFER, (4, BdxStatus.RESPONDER_BUSY), target=(2, 0xD002))
    assert armed_text(on_second_fabric) == (
        "end transfer at block 4 with StatusReport 0x0019 responder busy (one-shot, node D002 on fabric 2)"
    )
    delayed = OtaPolicy().arm(Knob.DELAY_BLOCK, (3, 2.5))
    assert armed_text(delayed) == "delay block 3 by 2.5 s (one-shot, all requestors)"


def test_a_fault_hits_only_its_block_and_the_targeted_node():
    policy = OtaPolicy()
    policy.arm(Knob.CORRUPT_BLOCK, 7, target=B)
    assert policy.fault_for(A, 7) is None and policy.fault_for(B, 6) is None
    assert policy.fault_for(B, 7).knob == Knob.CORRUPT_BLOCK
    assert policy.fault_for(B, 7) is None  # one-shot: the next transfer is clean


def test_arm_all_arms_every_knob_or_none():
    policy = OtaPolicy()
    with pytest.raises(ValueError, match="outside"):
        policy.arm_all([(Knob.QUERY_STATUS, QueryImageStatus.BUSY), (Knob.QUERY_DELAY, 1 << 33)])
    assert policy.armed == []
    armed = policy.arm_all([(Knob.QUERY_STATUS, QueryImageStatus.BUSY), (Knob.QUERY_DELAY, 30)])
    assert [a.knob for a in armed] == [Knob.QUERY_STATUS, Knob.QUERY_DELAY]
    decision = policy.decide_query((1, 5), requestor_can_consent=False, image_available=True)
    assert (decision.status, decision.delayed_action_time, len(decision.used)) == (QueryImageStatus.BUSY, 30, 2)


def test_a_one_shot_armed_by_the_operator_is_spent_only_by_a_response_it_changes():
    policy = OtaPolicy()
    policy.arm(Knob.CONSENT_NEEDED, True)
    up_to_date = policy.decide_query(A, requestor_can_consent=True, image_available=False)
    assert up_to_date.status == NA and not up_to_date.used and len(policy.armed) == 1
    offered = policy.decide_query(A, requestor_can_consent=True, image_available=True)
    assert offered.user_consent_needed and policy.armed == []


def test_knobs_armed_together_for_all_requestors_shape_one_response_of_one_node():
    """ "consent needed" and "provider consent deferred" armed in one press once went to two nodes;
    and the press's ApplyUpdate knob follows the node that got its query answer."""
    policy = OtaPolicy()
    policy.arm_all(
        [
            (Knob.CONSENT_NEEDED, True),
            (Knob.CONSENT_STATE, UserConsentState.DEFERRED),
            (Knob.APPLY_ACTION, ApplyUpdateAction.DISCONTINUE),
        ]
    )
    first = policy.decide_query(A, requestor_can_consent=True, image_available=True)
    assert first.user_consent_needed and first.status == UA
    second = policy.decide_query(B, requestor_can_consent=False, image_available=True)
    assert second.status == UA and not second.used  # the deferral went with the first node's response
    assert policy.decide_apply(B).action == ApplyUpdateAction.PROCEED
    assert policy.decide_apply(A).action == ApplyUpdateAction.DISCONTINUE
