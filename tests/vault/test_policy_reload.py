"""Reload without restart: good changes take effect and are audited; bad ones change nothing."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests._staff_city import StaffCity, build_staff_city
from veil.errors import AccessDenied, InvalidInput, QuotaExceeded
from veil.policy import DEFAULT_POLICY_DIR, PolicySource
from veil.store import AUDIT_EVENTS
from veil.vault import PolicyWatcher, Vault, policy_status, reload_policies, reveal_order

FAILED = "delivery_failed_contact_customer"


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    return folder


@pytest.fixture
def staff(vault: Vault, policy_dir: Path) -> StaffCity:
    vault.policy.replace(PolicySource.load(policy_dir))
    return build_staff_city(vault)


def audit(vault: Vault, tag: str) -> list[Any]:
    with vault.engine.connect() as connection:
        return list(
            connection.execute(
                select(AUDIT_EVENTS).where(AUDIT_EVENTS.c.tag == tag).order_by(AUDIT_EVENTS.c.seq)
            )
        )


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    # Make the change visible to an mtime check even within one clock tick.
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def reveal_phone(staff: StaffCity, order_id: str, ticket_id: str) -> dict[str, Any]:
    return reveal_order(
        staff.vault,
        staff.agents[0],
        order_id,
        fields=["phone"],
        purpose=FAILED,
        ticket_id=ticket_id,
    )


def test_an_admin_reload_puts_a_changed_rule_in_force_and_is_audited(
    staff: StaffCity, policy_dir: Path
) -> None:
    order_id = staff.city.order_in("delivered")
    ticket_id = staff.ticket(order_id)
    with pytest.raises(AccessDenied):
        reveal_phone(staff, order_id, ticket_id)
    before = staff.vault.policy.source.digest
    # The security lead decides that a just-delivered order may still need a call.
    edit(
        policy_dir / "staff.cedar",
        '["rider_assigned", "picked_up"].contains(resource.state)',
        '["rider_assigned", "picked_up", "delivered"].contains(resource.state)',
    )
    result = reload_policies(staff.vault, staff.admins[0])
    assert result["changed"] is True
    assert result["previous_digest"] == before
    assert result["digest"] != before
    assert reveal_phone(staff, order_id, ticket_id)["fields"]["phone"] == "+8613800138001"
    [row] = audit(staff.vault, "admin:policies:reloaded")
    assert row.principal_id == staff.admins[0].principal_id
    detail = json.loads(row.detail)
    assert (detail["from"], detail["to"], detail["changed"]) == (before, result["digest"], True)


def test_a_bad_policy_file_is_refused_and_the_old_set_stays(
    staff: StaffCity, policy_dir: Path
) -> None:
    order_id = staff.city.order_in("picked_up")
    ticket_id = staff.ticket(order_id)
    in_force = staff.vault.policy.source
    (policy_dir / "zz_typo.cedar").write_text(
        '@id("typo")\npermit (principal is Veil::Agent, action == Veil::Action::"reveal", '
        'resource) when { context.purpse == "x" };\n',
        encoding="utf-8",
    )
    with pytest.raises(InvalidInput) as error:
        reload_policies(staff.vault, staff.admins[0])
    assert "policy set in force is unchanged" in error.value.message
    assert "zz_typo.cedar" in error.value.message
    assert "purpse" in error.value.message
    assert staff.vault.policy.source is in_force
    assert reveal_phone(staff, order_id, ticket_id)["policy_ids"] == [
        "reveal.agent.delivery-failed"
    ]
    [refused] = audit(staff.vault, "admin:policies:reload_refused")
    assert refused.decision == "deny"
    assert "purpse" in json.loads(refused.detail)["error"]
    assert json.loads(refused.detail)["in_force"] == in_force.digest


def test_a_bad_quota_file_is_refused_too(staff: StaffCity, policy_dir: Path) -> None:
    edit(policy_dir / "quotas.toml", "per_principal = 10", "per_principal = 400")
    with pytest.raises(InvalidInput, match="above 25"):
        reload_policies(staff.vault, staff.admins[0])
    assert staff.vault.policy.source.quotas.limits_for("prn_x", "agent") == (10, 200)


def test_quota_changes_arrive_with_a_reload(staff: StaffCity, policy_dir: Path) -> None:
    order_id = staff.city.order_in("picked_up")
    ticket_id = staff.ticket(order_id)
    edit(policy_dir / "quotas.toml", "per_principal = 10", "per_principal = 1")
    reload_policies(staff.vault, staff.admins[0])
    reveal_phone(staff, order_id, ticket_id)
    with pytest.raises(QuotaExceeded):
        reveal_phone(staff, order_id, ticket_id)


@pytest.mark.parametrize("role", ["agent", "safety", "service", "analyst"])
def test_only_admins_reload_or_read_the_policies(staff: StaffCity, role: str) -> None:
    caller = {
        "agent": staff.agents[0],
        "safety": staff.safety[0],
        "service": staff.city.service,
        "analyst": staff.analyst,
    }[role]
    assert caller is not None
    with pytest.raises(AccessDenied):
        reload_policies(staff.vault, caller)
    with pytest.raises(AccessDenied):
        policy_status(staff.vault, caller)
    assert audit(staff.vault, "admin:policies:reloaded") == []
    assert len(audit(staff.vault, "vault:operation:denied")) == 2


def test_the_status_names_digest_policies_and_quotas(staff: StaffCity, policy_dir: Path) -> None:
    status = policy_status(staff.vault, staff.admins[0])
    assert status["directory"] == str(policy_dir)
    assert "reveal.agent.delivery-failed" in status["policy_ids"]
    assert status["quotas"]["roles"]["agent"] == {"per_principal": 10, "role_total": 200}


def test_the_file_watcher_reloads_refuses_once_and_recovers(
    staff: StaffCity, policy_dir: Path
) -> None:
    watcher = PolicyWatcher(staff.vault, interval=0.05)
    assert watcher.check() == "unchanged"
    edit(policy_dir / "quotas.toml", "per_principal = 10", "per_principal = 4")
    assert watcher.check() == "reloaded"
    assert staff.vault.policy.source.quotas.limits_for("prn_x", "agent") == (4, 200)
    good = staff.vault.policy.source
    edit(policy_dir / "staff.cedar", '@id("reveal.break-glass")', '@id("reveal.break-glass"')
    assert watcher.check() == "refused"
    assert watcher.check() == "unchanged"  # refused once, not every round
    assert staff.vault.policy.source is good
    edit(policy_dir / "staff.cedar", '@id("reveal.break-glass"', '@id("reveal.break-glass")')
    assert watcher.check() == "reloaded"
    reloads = audit(staff.vault, "admin:policies:reloaded")
    assert [json.loads(r.detail)["trigger"] for r in reloads] == ["file change", "file change"]
    assert all(r.principal_id is None for r in reloads)
    [refused] = audit(staff.vault, "admin:policies:reload_refused")
    assert "do not parse" in json.loads(refused.detail)["error"]


def test_the_watcher_thread_picks_up_a_change(staff: StaffCity, policy_dir: Path) -> None:
    watcher = PolicyWatcher(staff.vault, interval=0.05)
    watcher.start()
    try:
        edit(policy_dir / "quotas.toml", "per_principal = 10", "per_principal = 6")
        for _ in range(200):
            if staff.vault.policy.source.quotas.limits_for("prn_x", "agent")[0] == 6:
                break
            time.sleep(0.05)
    finally:
        watcher.stop()
    assert staff.vault.policy.source.quotas.limits_for("prn_x", "agent") == (6, 200)
