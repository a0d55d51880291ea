"""Purpose-bound reveals: decided by policy, counted against quotas, recorded in full."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from typing import Any

import pytest
from sqlalchemy import Engine, select

from tests._staff_city import StaffCity, build_staff_city
from tests.conftest import build_vault
from veil.errors import AccessDenied, Conflict, InvalidInput, NotFound, QuotaExceeded, VeilError
from veil.ids import IdKind, is_id
from veil.policy import RoleQuota
from veil.store import AUDIT_EVENTS, QUOTA_USAGE
from veil.testing import FixedClock, InMemoryKeyProvider
from veil.vault import Caller, Vault, close_ticket, quota_of, reveal_order

FAILED = "delivery_failed_contact_customer"
REFUND = "refund_verification"


@pytest.fixture
def staff(vault: Vault) -> StaffCity:
    return build_staff_city(vault)


def set_quotas(vault: Vault, **roles: tuple[int, int]) -> None:
    """Put a quota table in force the way a policy reload would."""
    source = vault.policy.source
    table = dataclasses.replace(
        source.quotas, roles={role: RoleQuota(*limits) for role, limits in roles.items()}
    )
    vault.policy.replace(dataclasses.replace(source, quotas=table))


def reveal_rows(vault: Vault) -> list[Any]:
    with vault.engine.connect() as connection:
        return list(
            connection.execute(
                select(AUDIT_EVENTS)
                .where(AUDIT_EVENTS.c.tag.startswith("staff:order:"))
                .order_by(AUDIT_EVENTS.c.seq)
            )
        )


def test_a_reveal_answers_fields_policy_ids_and_reveal_id_and_records_all(staff: StaffCity) -> None:
    order_id = staff.city.order_in("picked_up")
    ticket_id = staff.ticket(order_id)
    answer = reveal_order(
        staff.vault,
        staff.agents[0],
        order_id,
        fields=["phone"],
        purpose=FAILED,
        ticket_id=ticket_id,
    )
    assert answer["fields"] == {"phone": "+8613800138001"}
    assert answer["policy_ids"] == ["reveal.agent.delivery-failed"]
    assert is_id(answer["reveal_id"], IdKind.REVEAL)
    assert answer["ticket_id"] == ticket_id
    assert answer["quota"]["principal"] == {"limit": 10, "used": 1, "remaining": 9}
    assert answer["quota"]["role"] == {"role": "agent", "limit": 200, "used": 1, "remaining": 199}
    [row] = reveal_rows(staff.vault)
    assert row.tag == "staff:order:revealed"
    assert row.decision == "allow"
    assert row.principal_id == staff.agents[0].principal_id
    assert row.order_id == order_id
    assert row.purpose == FAILED
    assert row.fields == "phone.full"
    assert row.policy_ids == "reveal.agent.delivery-failed"
    assert json.loads(row.detail) == {
        "reveal_id": answer["reveal_id"],
        "ticket_id": ticket_id,
        "quota": "principal 1/10, role agent 1/200",
    }
    # The audit row names fields, never values.
    assert "13800138001" not in str(tuple(row))


def test_refund_verification_reveals_name_and_address_after_delivery(staff: StaffCity) -> None:
    order_id = staff.city.order_in("delivered", subject=1)
    ticket_id = staff.ticket(order_id)
    answer = reveal_order(
        staff.vault,
        staff.agents[0],
        order_id,
        fields=["name", "address"],
        purpose=REFUND,
        ticket_id=ticket_id,
    )
    assert answer["fields"]["name"] == "欧阳娜娜"
    assert answer["fields"]["address"]["room"] == "602"
    assert "phone" not in answer["fields"]


@pytest.mark.parametrize(
    ("state", "fields", "purpose"),
    [
        ("delivered", ["phone"], FAILED),  # the delivery is over
        ("created", ["phone"], FAILED),  # not out for delivery yet
        ("picked_up", ["phone", "address"], FAILED),  # more than the purpose needs
        ("picked_up", ["name"], REFUND),  # refunds wait for the end
        ("delivered", ["phone"], REFUND),  # refunds never need the phone
    ],
)
def test_the_policy_decides_per_purpose_state_and_field(
    staff: StaffCity, state: str, fields: list[str], purpose: str
) -> None:
    order_id = staff.city.order_in(state)
    ticket_id = staff.ticket(order_id)
    with pytest.raises(AccessDenied, match="no policy permits"):
        reveal_order(
            staff.vault,
            staff.agents[0],
            order_id,
            fields=fields,
            purpose=purpose,
            ticket_id=ticket_id,
        )
    [row] = reveal_rows(staff.vault)
    assert (row.decision, row.purpose, row.policy_ids) == ("deny", purpose, "")


def test_unknown_purposes_and_fields_are_input_errors(staff: StaffCity) -> None:
    order_id = staff.city.order_in("picked_up")
    with pytest.raises(InvalidInput, match="purpose must be one of"):
        reveal_order(staff.vault, staff.agents[0], order_id, fields=["phone"], purpose="curiosity")
    with pytest.raises(InvalidInput, match="fields must be among"):
        reveal_order(staff.vault, staff.agents[0], order_id, fields=["id_card"], purpose=FAILED)
    with pytest.raises(InvalidInput, match="at least one field"):
        reveal_order(staff.vault, staff.agents[0], order_id, fields=[], purpose=FAILED)


def test_an_absent_order_is_a_404_and_is_audited(staff: StaffCity) -> None:
    with pytest.raises(NotFound):
        reveal_order(
            staff.vault, staff.agents[0], "ord_" + "a" * 26, fields=["phone"], purpose=FAILED
        )
    with pytest.raises(NotFound):
        reveal_order(
            staff.vault, staff.agents[0], "not-an-id\x00", fields=["phone"], purpose=FAILED
        )
    rows = reveal_rows(staff.vault)
    assert [(r.decision, r.reason, r.order_id) for r in rows] == [
        ("deny", "not found", "ord_" + "a" * 26),
        ("deny", "not found", None),
    ]


def test_an_erased_customer_has_nothing_to_reveal(staff: StaffCity) -> None:
    order_id = staff.city.order_in("picked_up")
    ticket_id = staff.ticket(order_id)
    staff.vault.erase_subject(staff.city.service, staff.city.subjects[0])
    with pytest.raises(Conflict, match="erased"):
        reveal_order(
            staff.vault,
            staff.agents[0],
            order_id,
            fields=["phone"],
            purpose=FAILED,
            ticket_id=ticket_id,
        )
    assert quota_of(staff.vault, staff.agents[0])["principal"]["used"] == 0


@pytest.mark.parametrize("offset_ms", [-1000, -1, 0, 1000])
def test_reveals_stop_exactly_when_the_ticket_closes(
    staff: StaffCity, clock: FixedClock, offset_ms: int
) -> None:
    # The ticket closes at T; a reveal decided at T + offset works only before T.
    order_id = staff.city.order_in("picked_up")
    ticket_id = staff.ticket(order_id)
    clock.advance(minutes=5)
    close_at = clock.now()
    close_ticket(staff.vault, staff.city.service, ticket_id)
    clock.set(close_at + dt.timedelta(milliseconds=offset_ms))

    def attempt() -> dict[str, Any]:
        return reveal_order(
            staff.vault,
            staff.agents[0],
            order_id,
            fields=["phone"],
            purpose=FAILED,
            ticket_id=ticket_id,
        )

    if offset_ms < 0:
        assert attempt()["fields"]["phone"] == "+8613800138001"
    else:
        with pytest.raises(AccessDenied, match="ticket is closed"):
            attempt()


# ---------------------------------------------------------------- quotas


def test_the_quota_runs_out_then_resets_the_next_day(staff: StaffCity, clock: FixedClock) -> None:
    set_quotas(staff.vault, agent=(2, 100))
    order_id = staff.city.order_in("picked_up")
    ticket_id = staff.ticket(order_id)
    agent = staff.agents[0]

    def attempt() -> dict[str, Any]:
        return reveal_order(
            staff.vault, agent, order_id, fields=["phone"], purpose=FAILED, ticket_id=ticket_id
        )

    attempt()
    attempt()
    with pytest.raises(
        QuotaExceeded, match=r"principal 2/2, role agent 2/100.*resets at 2026-11-29T16:00"
    ):
        attempt()
    denied = reveal_rows(staff.vault)[-1]
    assert (denied.decision, denied.reason) == ("deny", "daily reveal quota used up")
    assert json.loads(denied.detail)["quota"] == "principal 2/2, role agent 2/100"
    assert denied.policy_ids == "reveal.agent.delivery-failed"
    quota = quota_of(staff.vault, agent)
    assert quota["remaining"] == 0
    assert quota["resets_at"] == "2026-11-29T16:00:00.000Z"
    # Midnight in Beijing (16:00 UTC): a fresh day.
    clock.advance(hours=4)
    assert quota_of(staff.vault, agent)["principal"] == {"limit": 2, "used": 0, "remaining": 2}
    assert attempt()["quota"]["day"] == "2026-11-30"


def test_the_role_wide_quota_binds_every_agent(staff: StaffCity) -> None:
    set_quotas(staff.vault, agent=(5, 2))
    orders = [staff.city.order_in("picked_up") for _ in range(3)]
    tickets = [staff.ticket(order, agent=n % 2) for n, order in enumerate(orders)]
    for n in range(2):
        reveal_order(
            staff.vault,
            staff.agents[n],
            orders[n],
            fields=["phone"],
            purpose=FAILED,
            ticket_id=tickets[n],
        )
    with pytest.raises(QuotaExceeded, match="role agent 2/2"):
        reveal_order(
            staff.vault,
            staff.agents[0],
            orders[2],
            fields=["phone"],
            purpose=FAILED,
            ticket_id=tickets[2],
        )
    # The principal's unit was given back when the role had none left.
    assert quota_of(staff.vault, staff.agents[0])["principal"]["used"] == 1


def test_quota_changes_apply_without_restart(staff: StaffCity) -> None:
    order_id = staff.city.order_in("picked_up")
    ticket_id = staff.ticket(order_id)
    set_quotas(staff.vault, agent=(0, 100))
    with pytest.raises(QuotaExceeded):
        reveal_order(
            staff.vault,
            staff.agents[0],
            order_id,
            fields=["phone"],
            purpose=FAILED,
            ticket_id=ticket_id,
        )
    set_quotas(staff.vault, agent=(1, 100))
    reveal_order(
        staff.vault,
        staff.agents[0],
        order_id,
        fields=["phone"],
        purpose=FAILED,
        ticket_id=ticket_id,
    )


@pytest.mark.parametrize("role", ["rider", "merchant", "service", "analyst"])
def test_everyone_sees_their_own_quota_and_most_have_none(staff: StaffCity, role: str) -> None:
    caller = {
        "rider": staff.city.riders[0],
        "merchant": staff.city.merchants[0],
        "service": staff.city.service,
        "analyst": staff.analyst,
    }[role]
    assert caller is not None
    quota = quota_of(staff.vault, caller)
    assert quota["remaining"] == 0
    assert quota["role"]["role"] == role


# ---------------------------------------------------------------- the race for the last unit


@pytest.mark.parametrize("limit", [1, 3])
def test_racing_reveals_never_take_more_than_the_quota(
    engine: Engine, provider: InMemoryKeyProvider, clock: FixedClock, limit: int
) -> None:
    staff = build_staff_city(build_vault(engine, provider, clock))
    set_quotas(staff.vault, agent=(limit, 100))
    order_id = staff.city.order_in("picked_up")
    ticket_id = staff.ticket(order_id)
    agent = staff.agents[0]
    threads = 12
    barrier = threading.Barrier(threads)
    outcomes: list[object] = []
    lock = threading.Lock()

    def race() -> None:
        barrier.wait()
        try:
            result: object = reveal_order(
                staff.vault, agent, order_id, fields=["phone"], purpose=FAILED, ticket_id=ticket_id
            )
        except VeilError as error:
            result = error
        with lock:
            outcomes.append(result)

    workers = [threading.Thread(target=race) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    allowed = [o for o in outcomes if isinstance(o, dict)]
    refused = [o for o in outcomes if isinstance(o, QuotaExceeded)]
    assert len(allowed) == limit
    assert len(refused) == threads - limit
    with staff.vault.engine.connect() as connection:
        used = {
            scope: count
            for scope, count in connection.execute(select(QUOTA_USAGE.c.scope, QUOTA_USAGE.c.used))
        }
    assert used == {"principal": limit, "role": limit}
    revealed = [r for r in reveal_rows(staff.vault) if r.decision == "allow"]
    assert len(revealed) == limit


def test_racing_agents_share_the_role_quota_exactly(
    engine: Engine, provider: InMemoryKeyProvider, clock: FixedClock
) -> None:
    staff = build_staff_city(build_vault(engine, provider, clock))
    agents: list[Caller] = [staff.city.principal("agent", f"agent-race-{n}") for n in range(8)]
    staff.agents = agents
    set_quotas(staff.vault, agent=(5, 3))
    orders = [staff.city.order_in("picked_up") for _ in agents]
    tickets = [staff.ticket(order, agent=n) for n, order in enumerate(orders)]
    barrier = threading.Barrier(len(agents))
    outcomes: list[object] = []

    def race(n: int) -> None:
        barrier.wait()
        try:
            outcomes.append(
                reveal_order(
                    staff.vault,
                    agents[n],
                    orders[n],
                    fields=["phone"],
                    purpose=FAILED,
                    ticket_id=tickets[n],
                )
            )
        except QuotaExceeded as error:
            outcomes.append(error)

    workers = [threading.Thread(target=race, args=(n,)) for n in range(len(agents))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sum(isinstance(o, dict) for o in outcomes) == 3
    assert sum(isinstance(o, QuotaExceeded) for o in outcomes) == len(agents) - 3
    with staff.vault.engine.connect() as connection:
        rows = connection.execute(select(QUOTA_USAGE.c.scope, QUOTA_USAGE.c.used)).all()
    assert sum(used for scope, used in rows if scope == "principal") == 3
    assert [used for scope, used in rows if scope == "role"] == [3]
