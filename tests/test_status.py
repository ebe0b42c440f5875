"""The comment state machine: every allowed transition, and every refused one."""
from __future__ import annotations

import pytest

from comment_service.moderation.status import Action, Status, TransitionError, next_status

ALLOWED = {
    (Status.PENDING, Action.APPROVE): Status.APPROVED,
    (Status.PUBLISHED, Action.APPROVE): Status.APPROVED,
    (Status.REJECTED, Action.APPROVE): Status.APPROVED,
    (Status.SPAM, Action.APPROVE): Status.APPROVED,
    (Status.PENDING, Action.REJECT): Status.REJECTED,
    (Status.PUBLISHED, Action.REJECT): Status.REJECTED,
    (Status.APPROVED, Action.REJECT): Status.REJECTED,
    (Status.PENDING, Action.SPAM): Status.SPAM,
    (Status.PUBLISHED, Action.SPAM): Status.SPAM,
    (Status.APPROVED, Action.SPAM): Status.SPAM,
    (Status.REJECTED, Action.SPAM): Status.SPAM,
    (Status.SPAM, Action.NOT_SPAM): Status.PENDING,
    **{(s, Action.DELETE): Status.DELETED for s in Status if s is not Status.DELETED},
}


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("action", [a for a in Action if a is not Action.RESTORE])
def test_transition_table(status, action):
    if (status, action) in ALLOWED:
        assert next_status(status, action) is ALLOWED[(status, action)]
    else:
        with pytest.raises(TransitionError):
            next_status(status, action)


@pytest.mark.parametrize("previous", [Status.PUBLISHED, Status.APPROVED, Status.PENDING])
def test_restore_returns_to_the_status_before_delete(previous):
    assert next_status(Status.DELETED, Action.RESTORE, previous) is previous


def test_restore_without_history_goes_to_pending_and_only_applies_to_deleted():
    assert next_status(Status.DELETED, Action.RESTORE, None) is Status.PENDING
    with pytest.raises(TransitionError):
        next_status(Status.APPROVED, Action.RESTORE)
