"""The model-version life cycle: every (from, to) pair of states is a legal move or refused, naming both."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

import pytest

from pipeline_core.errors import ConflictError
from pipeline_core.vocabulary import (
    APPROVED_STATES,
    FINISHED_RUN_STATES,
    MODEL_TRANSITIONS,
    ModelState,
    RunState,
    transition,
)

S = ModelState
# The product's moves, written out once more: changing the table in vocabulary.py is a decision
# this list has to be changed for too (DESIGN.md §3, and where each move happens in vocabulary.py).
MOVES = {
    (S.TRAINED, S.IN_PREPROD),
    (S.IN_PREPROD, S.AWAITING_REVIEW),
    (S.AWAITING_REVIEW, S.APPROVED),
    (S.AWAITING_REVIEW, S.REJECTED),
    (S.AWAITING_REVIEW, S.AWAITING_COUNTERSIGN),
    (S.AWAITING_COUNTERSIGN, S.APPROVED),
    (S.AWAITING_COUNTERSIGN, S.REJECTED),
    (S.APPROVED, S.IN_PRODUCTION),
    (S.IN_PRODUCTION, S.RETIRED),
    (S.RETIRED, S.IN_PRODUCTION),
    (S.TRAINED, S.FAILED),
    (S.IN_PREPROD, S.FAILED),
}
PAIRS = [(current, target) for current in ModelState for target in ModelState]
WHAT = "model version 7"


def _reachable(
    start: ModelState, table: Mapping[ModelState, frozenset[ModelState]] = MODEL_TRANSITIONS
) -> set[ModelState]:
    """Every state some sequence of moves of ``table`` leads to from ``start``."""
    seen: set[ModelState] = set()
    queue = deque([start])
    while queue:
        for following in table[queue.popleft()]:
            if following not in seen:
                seen.add(following)
                queue.append(following)
    return seen


def test_the_table_is_the_products_moves() -> None:
    assert set(MODEL_TRANSITIONS) == set(ModelState)
    assert {(current, target) for current, targets in MODEL_TRANSITIONS.items() for target in targets} == MOVES


@pytest.mark.parametrize(("current", "target"), sorted(MOVES))
def test_a_legal_move_returns_its_target(current: ModelState, target: ModelState) -> None:
    # the store hands back the plain string, which is what transition() reads
    assert transition(current.value, target, what=WHAT) is target


@pytest.mark.parametrize(("current", "target"), sorted(pair for pair in PAIRS if pair not in MOVES))
def test_an_illegal_move_is_refused_naming_both_states(current: ModelState, target: ModelState) -> None:
    with pytest.raises(ConflictError, match=f"^{WHAT} cannot move from {current} to {target} "):
        transition(current.value, target, what=WHAT)


@pytest.mark.parametrize(
    ("current", "allowed"),
    [
        (S.REJECTED, "none: it is final"),
        (S.FAILED, "none: it is final"),
        (S.IN_PREPROD, "awaiting_review, failed"),
        (S.AWAITING_REVIEW, "approved, awaiting_countersign, rejected"),
        (S.RETIRED, "in_production"),
    ],
)
def test_a_refusal_says_where_the_version_may_go(current: ModelState, allowed: str) -> None:
    with pytest.raises(ConflictError, match=rf"\(from {current}: {allowed}\)$"):
        transition(current, S.TRAINED, what=WHAT)


def test_an_unknown_stored_state_is_refused_by_name() -> None:
    with pytest.raises(ConflictError, match=f"{WHAT} is in an unknown state 'in_prod'"):
        transition("in_prod", S.RETIRED, what=WHAT)


def test_a_rejected_version_never_reaches_production() -> None:
    assert _reachable(S.REJECTED) == set()
    # and production is reached only through an approval: without that move, no path from a new version gets there
    unapproved = {state: targets - {S.APPROVED} for state, targets in MODEL_TRANSITIONS.items()}
    assert S.IN_PRODUCTION in _reachable(S.TRAINED) and S.IN_PRODUCTION not in _reachable(S.TRAINED, unapproved)


def test_a_failed_version_is_never_reviewed_or_served_in_production() -> None:
    assert _reachable(S.FAILED) == set()
    assert S.FAILED not in _reachable(S.AWAITING_REVIEW)  # once it could be decided, its run had succeeded


def test_approved_states_are_those_after_an_approval() -> None:
    assert _reachable(S.APPROVED) | {S.APPROVED} == APPROVED_STATES


@pytest.mark.parametrize("state", list(RunState))
def test_a_run_is_finished_once_it_cannot_change_again(state: RunState) -> None:
    assert state.finished is (state not in (RunState.QUEUED, RunState.RUNNING))
    assert (state.value in FINISHED_RUN_STATES) is state.finished  # a stored string finds its state
