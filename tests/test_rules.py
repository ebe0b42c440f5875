"""Table-driven: which status each rule gives, and that every reason is explained."""
from __future__ import annotations

import pytest

from comment_service.moderation.rules import Policy, ReasonCode, Submission, evaluate
from comment_service.moderation.status import ModerationMode, Status

POST = Policy(mode=ModerationMode.POST, banned_words=("قمار",), suspect_words=("سياسة*",), link_limit=2)

# policy, submission, status, reason codes, why
CASES = [
    (POST, Submission("تعليق عادي"), Status.PUBLISHED, [], "nothing fires"),
    (Policy(mode=ModerationMode.PRE), Submission("تعليق"), Status.PENDING, ["pre_moderation"], "pre-moderation holds"),
    (POST, Submission("عن القِمار"), Status.REJECTED, ["banned_word"], "banned word rejects"),
    (POST, Submission("في السياسات"), Status.PENDING, ["suspect_word"], "suspect word holds"),
    (POST, Submission("links", link_count=3), Status.PENDING, ["too_many_links"], "over the link limit"),
    (POST, Submission("links", link_count=2), Status.PUBLISHED, [], "at the link limit"),
    (Policy(mode=ModerationMode.POST, hold_first_time=True), Submission("hi"), Status.PENDING, ["first_time_author"], "first-time author"),
    (Policy(mode=ModerationMode.POST, hold_first_time=True), Submission("hi", author_has_approved_comment=True), Status.PUBLISHED, [], "known author"),
    (POST, Submission("hi", duplicate_of_recent=True), Status.PENDING, ["duplicate"], "duplicate"),
    (POST, Submission("hi", honeypot_filled=True), Status.SPAM, ["honeypot"], "honeypot is spam"),
    (POST, Submission("القمار", author_banned=True), Status.REJECTED, ["author_banned"], "ban beats everything"),
    (POST, Submission("قمار و سياسة", link_count=5), Status.REJECTED, ["banned_word"], "reject beats hold"),
    (
        Policy(mode=ModerationMode.PRE, suspect_words=("x",), hold_first_time=True),
        Submission("x", link_count=9, duplicate_of_recent=True),
        Status.PENDING,
        ["suspect_word", "too_many_links", "first_time_author", "duplicate", "pre_moderation"],
        "every hold reason kept, in order",
    ),
]


@pytest.mark.parametrize("policy,submission,status,codes,why", CASES, ids=[c[4] for c in CASES])
def test_rules(policy, submission, status, codes, why):
    decision = evaluate(policy, submission)
    assert decision.status is status, why
    assert [r.code.value for r in decision.reasons] == codes, why
    assert all(r.detail for r in decision.reasons)


def test_only_a_banned_author_is_refused():
    assert evaluate(POST, Submission("x", author_banned=True)).refused
    assert not evaluate(POST, Submission("قمار")).refused


def test_word_reasons_carry_spans_into_the_original():
    body = "نص ثم بالقِمار ثم"
    (reason,) = evaluate(POST, Submission(body)).reasons
    assert reason.code is ReasonCode.BANNED_WORD
    assert body[reason.span[0]:reason.span[1]] == "بالقِمار"
    assert reason.as_dict() == {"code": "banned_word", "detail": reason.detail, "span": list(reason.span), "entry": "قمار"}
    assert "قمار" in reason.detail


def test_reasons_carry_structured_facts_for_any_language():
    (links,) = evaluate(POST, Submission("x", link_count=5)).reasons
    assert links.as_dict()["count"] == 5 and links.as_dict()["limit"] == 2
    (word,) = evaluate(POST, Submission("في السياسات")).reasons
    assert word.as_dict()["entry"] == "سياسة*"
