"""Staff rules at every time boundary (Hypothesis), and the shipped policy test table.

Tickets are open from ``opened_ms`` (inclusive) to ``closed_ms`` (exclusive);
a break-glass grant is in force from ``approved_ms`` (inclusive) to
``expires_ms`` (exclusive); a rider sees the door until ``delivered + grace``
(inclusive). Each property compares the engine with that one-line oracle, at
the edges ± 1 ms and ± 1 s and anywhere in between.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from veil.errors import ConfigurationError
from veil.policy import (
    CASES_FILE,
    DEFAULT_POLICY_DIR,
    BreakGlassFacts,
    Deny,
    OrderFacts,
    PolicyEngine,
    PolicySource,
    PrincipalFacts,
    TicketFacts,
    decide_break_glass,
    decide_case,
    decide_staff_order,
    explain,
    load_cases,
    run_cases,
)

SOURCE = PolicySource.load(DEFAULT_POLICY_DIR)
ENGINE = PolicyEngine(SOURCE, rider_grace_ms=900_000)
T0 = 1_795_953_600_000  # 2026-11-29 12:00 UTC
AGENT = PrincipalFacts("prn_" + "a" * 26, "agent")
OTHER_AGENT = PrincipalFacts("prn_" + "b" * 26, "agent")
ADMIN = PrincipalFacts("prn_" + "d" * 26, "admin")
SECOND_ADMIN = PrincipalFacts("prn_" + "e" * 26, "admin")
SAFETY = PrincipalFacts("prn_" + "f" * 26, "safety")
RIDER = PrincipalFacts("prn_" + "r" * 26, "rider")
ORDER = OrderFacts(
    id="ord_" + "o" * 26,
    state="picked_up",
    subject_id="sub_" + "s" * 26,
    merchant_id="prn_" + "m" * 26,
    rider_id=RIDER.id,
    past_rider_ids=(),
    created_ms=T0 - 3_600_000,
    assigned_ms=T0 - 1_800_000,
    picked_up_ms=T0 - 600_000,
)
SECOND = 1000
# Offsets from an edge that matter: exactly on it, one millisecond and one second either side.
EDGES = st.sampled_from([-SECOND, -1, 0, 1, SECOND]) | st.integers(-3_600_000, 3_600_000)


def _ticket(opened: int, closed: int | None, assignee: str = AGENT.id) -> TicketFacts:
    return TicketFacts("tkt_" + "t" * 26, ORDER.id, assignee, "service", opened, closed)


def _reveal(principal: PrincipalFacts, now: int, **relations: object) -> bool:
    [decision] = decide_staff_order(
        ENGINE,
        principal,
        ("reveal",),
        ORDER,
        now_ms=now,
        purpose="safety_incident"
        if principal.role != "agent"
        else "delivery_failed_contact_customer",
        fields=("phone",),
        **relations,  # type: ignore[arg-type]
    )
    return decision.allowed


def _view(principal: PrincipalFacts, now: int, **relations: object) -> bool:
    [decision] = decide_staff_order(
        ENGINE,
        principal,
        ("view_order",),
        ORDER,
        now_ms=now,
        **relations,  # type: ignore[arg-type]
    )
    return decision.allowed


# ---------------------------------------------------------------- tickets


@given(offset=EDGES)
@example(offset=-1)
@example(offset=0)
def test_a_ticket_works_from_the_moment_it_opens(offset: int) -> None:
    ticket = _ticket(opened=T0, closed=None)
    now = T0 + offset
    assert _view(AGENT, now, ticket=ticket) is (now >= T0)
    assert _reveal(AGENT, now, ticket=ticket) is (now >= T0)


@given(offset=EDGES, lifetime=st.integers(1, 7 * 86_400_000))
@example(offset=-SECOND, lifetime=600_000)
@example(offset=-1, lifetime=600_000)
@example(offset=0, lifetime=600_000)
@example(offset=SECOND, lifetime=600_000)
def test_a_ticket_stops_working_the_moment_it_closes(offset: int, lifetime: int) -> None:
    closed = T0 + lifetime
    ticket = _ticket(opened=T0, closed=closed)
    now = closed + offset
    expected = T0 <= now < closed
    assert _view(AGENT, now, ticket=ticket) is expected
    assert _reveal(AGENT, now, ticket=ticket) is expected


@given(offset=EDGES)
def test_another_agents_ticket_never_works(offset: int) -> None:
    ticket = _ticket(opened=T0, closed=None, assignee=OTHER_AGENT.id)
    assert not _view(AGENT, T0 + offset, ticket=ticket)
    assert not _reveal(AGENT, T0 + offset, ticket=ticket)


def test_a_ticket_on_another_order_never_works() -> None:
    ticket = dataclasses.replace(_ticket(T0, None), order_id="ord_" + "x" * 26)
    assert not _view(AGENT, T0 + SECOND, ticket=ticket)
    assert not _reveal(AGENT, T0 + SECOND, ticket=ticket)


# ---------------------------------------------------------------- break-glass


def _grant(
    requester: PrincipalFacts = ADMIN,
    *,
    approved: int | None = T0,
    expires: int = T0 + 1_800_000,
    revoked: int | None = None,
) -> BreakGlassFacts:
    return BreakGlassFacts(
        id="brk_" + "g" * 26,
        order_id=ORDER.id,
        requester_id=requester.id,
        requester_role=requester.role,
        requested_ms=T0 - 60_000,
        expires_ms=expires,
        approver_id=SECOND_ADMIN.id if approved is not None else None,
        approved_ms=approved,
        revoked_ms=revoked,
    )


@given(offset=EDGES, requester=st.sampled_from([ADMIN, SAFETY]))
@example(offset=-SECOND, requester=ADMIN)
@example(offset=-1, requester=ADMIN)
@example(offset=0, requester=ADMIN)
@example(offset=SECOND, requester=SAFETY)
def test_break_glass_ends_at_expiry(offset: int, requester: PrincipalFacts) -> None:
    expires = T0 + 1_800_000  # the default 30 minutes after approval
    grant = _grant(requester, expires=expires)
    now = expires + offset
    expected = T0 <= now < expires
    assert _reveal(requester, now, break_glass=grant) is expected
    assert _view(requester, now, break_glass=grant) is expected


@given(offset=EDGES)
def test_break_glass_starts_at_approval_not_at_request(offset: int) -> None:
    grant = _grant(approved=T0)
    assert _reveal(ADMIN, T0 + offset, break_glass=grant) is (0 <= offset < 1_800_000)


@given(offset=EDGES)
def test_a_pending_grant_never_works(offset: int) -> None:
    grant = _grant(approved=None)
    assert not _reveal(ADMIN, T0 + offset, break_glass=grant)


@given(offset=EDGES)
def test_a_revoked_grant_stops_at_revocation(offset: int) -> None:
    revoked = T0 + 600_000
    grant = _grant(revoked=revoked)
    now = revoked + offset
    assert _reveal(ADMIN, now, break_glass=grant) is (T0 <= now < revoked)


def test_a_grant_works_only_for_its_requester() -> None:
    grant = _grant(ADMIN)
    assert _reveal(ADMIN, T0 + SECOND, break_glass=grant)
    assert not _reveal(SECOND_ADMIN, T0 + SECOND, break_glass=grant)
    assert not _reveal(SAFETY, T0 + SECOND, break_glass=grant)


@pytest.mark.parametrize("approver", [SECOND_ADMIN, ADMIN])
def test_approval_needs_a_second_different_admin(approver: PrincipalFacts) -> None:
    [decision] = decide_break_glass(
        ENGINE, approver, ("approve_break_glass",), _grant(approved=None), now_ms=T0
    )
    assert decision.allowed is (approver is SECOND_ADMIN)
    if isinstance(decision, Deny):
        assert decision.reason == "a break-glass request needs a second, different admin"


# ---------------------------------------------------------------- delivery window


@given(offset=EDGES)
@example(offset=-SECOND)
@example(offset=SECOND)
def test_rider_window_closes_at_delivered_plus_grace(offset: int) -> None:
    delivered = T0
    order = dataclasses.replace(ORDER, state="delivered", delivered_ms=delivered)
    now = delivered + 900_000 + offset
    [decision] = decide_staff_order(ENGINE, RIDER, ("view_order",), order, now_ms=now)
    assert decision.allowed is (now <= delivered + 900_000)


@given(offset=EDGES)
def test_delivery_failed_reveals_stop_when_the_order_is_delivered(offset: int) -> None:
    # The state, not the clock, decides: a delivered order is over for this purpose.
    ticket = _ticket(opened=T0 - 60_000, closed=None)
    delivered = dataclasses.replace(ORDER, state="delivered", delivered_ms=T0)
    [decision] = decide_staff_order(
        ENGINE,
        AGENT,
        ("reveal",),
        delivered,
        now_ms=T0 + offset,
        ticket=ticket,
        purpose="delivery_failed_contact_customer",
        fields=("phone",),
    )
    assert not decision.allowed


# ---------------------------------------------------------------- the shipped table


def test_the_shipped_policy_table_passes() -> None:
    cases, grace = load_cases(DEFAULT_POLICY_DIR / CASES_FILE)
    results = run_cases(SOURCE, cases, rider_grace_ms=grace)
    assert len(results) >= 50
    assert [(r.case.name, r.problems) for r in results if not r.passed] == []
    # The table exercises every staff action and every purpose.
    actions = {case.action for case in cases}
    assert {"reveal", "view_order", "open_ticket", "approve_break_glass", "close_ticket"} <= actions
    purposes = {case.purpose for case in cases if case.purpose}
    assert purposes == {
        "delivery_failed_contact_customer",
        "refund_verification",
        "safety_incident",
        "law_enforcement_request",
    }


def test_a_policy_change_that_breaks_a_rule_fails_the_table(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    staff = folder / "staff.cedar"
    # A careless edit: refunds may now read the phone.
    text = staff.read_text(encoding="utf-8").replace(
        '["name", "address"].containsAll', '["name", "address", "phone"].containsAll'
    )
    staff.write_text(text, encoding="utf-8")
    cases, grace = load_cases(folder / CASES_FILE)
    failed = [
        r for r in run_cases(PolicySource.load(folder), cases, rider_grace_ms=grace) if not r.passed
    ]
    assert [r.case.name for r in failed] == ["refund verification never shows the phone"]
    assert failed[0].problems == ("expected deny, got allow",)


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('[[case]]\nname = "x"\nprincipal = "agent-1"\naction = "reveal"\n', "expect is required"),
        (
            '[[case]]\nname = "x"\nprincipal = "agent-1"\naction = "x"\nexpect = "maybe"\n',
            "allow or deny",
        ),
        (
            '[[case]]\nname = "x"\nprincipal = 3\naction = "x"\nexpect = "deny"\n',
            "principal must be",
        ),
        (
            '[[case]]\nname = "x"\nprincipal = "agent-1"\naction = "x"\nexpect = "deny"\n'
            'now = "soon"\n',
            "neither an offset",
        ),
        ('[[case]]\nname = "x"\ncolour = "red"\n', "unknown key(s) colour"),
        ('t0 = "2026-11-29T12:00:00Z"\n', "no [[case]] entries"),
    ],
)
def test_a_bad_case_table_is_refused_naming_the_problem(
    tmp_path: Path, table: str, problem: str
) -> None:
    path = tmp_path / CASES_FILE
    path.write_text(table, encoding="utf-8")
    with pytest.raises(ConfigurationError) as error:
        load_cases(path)
    assert problem in error.value.message


def test_explain_names_the_deciding_policy_and_the_permits_that_did_not_hold() -> None:
    closed = _ticket(opened=T0 - 60_000, closed=T0)
    [decision] = decide_staff_order(
        ENGINE,
        AGENT,
        ("reveal",),
        ORDER,
        now_ms=T0 + SECOND,
        ticket=closed,
        purpose="delivery_failed_contact_customer",
        fields=("phone",),
    )
    text = explain(SOURCE, decision, role="agent", action="reveal").render()
    assert text.startswith("DENY: agent → reveal")
    assert "forbid deny.ticket.closed  (staff.cedar)  reason: the support ticket is closed" in text
    assert "permit reveal.agent.delivery-failed" in text
    # Permits for other roles or actions are not listed.
    assert "view.rider" not in text


def test_splitting_the_policy_set_by_action_changes_no_decision() -> None:
    # The engine decides one action with only the policies whose scope can match
    # it; the whole set must give exactly the same answers.
    whole = PolicyEngine(dataclasses.replace(SOURCE, partitioned=False), rider_grace_ms=900_000)
    split = PolicyEngine(SOURCE, rider_grace_ms=900_000)
    cases, _ = load_cases(DEFAULT_POLICY_DIR / CASES_FILE)
    for case in cases:
        expected, got = decide_case(whole, case), decide_case(split, case)
        assert (got.allowed, set(got.policy_ids)) == (expected.allowed, set(expected.policy_ids))
        assert getattr(got, "reason", None) == getattr(expected, "reason", None), case.name
    set_for_view, _ = SOURCE.for_action("view_order")
    assert "policies>" in repr(set_for_view)
    assert SOURCE.for_action("no_such_action")[1] == {}
