"""``veil policy check|test|explain`` and ``veil tickets``, in-process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import Result

from tests._staff_city import build_staff_city
from tests.cli.conftest import Veil
from veil.config import Settings
from veil.crypto import InsecureKeyStorageWarning
from veil.policy import DEFAULT_POLICY_DIR
from veil.vault import open_vault


def _ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    return folder


def test_policy_check_validates_the_shipped_directory(veil: Veil) -> None:
    output = _ok(veil("policy", "check", "--dir", str(DEFAULT_POLICY_DIR)))
    assert "valid against the schema" in output
    assert "agent 10/200" in output
    assert "test case(s)" in output


def test_policy_check_refuses_a_bad_file_naming_it(veil: Veil, policy_dir: Path) -> None:
    (policy_dir / "zz_bad.cedar").write_text(
        '@id("bad")\npermit (principal is Veil::Agent, action == Veil::Action::"reveal", '
        'resource) when { context.mood == "bold" };\n',
        encoding="utf-8",
    )
    result = veil("policy", "check", "--dir", str(policy_dir))
    assert result.exit_code == 2
    assert "zz_bad.cedar" in result.output
    assert "mood" in result.output


def test_policy_test_runs_the_table(veil: Veil) -> None:
    output = _ok(veil("policy", "test", "--dir", str(DEFAULT_POLICY_DIR)))
    assert "0 failed" in output
    verbose = _ok(veil("policy", "test", "--dir", str(DEFAULT_POLICY_DIR), "-v"))
    assert "agent with a closed ticket: denied" in verbose


def test_policy_test_fails_when_a_rule_changes(veil: Veil, policy_dir: Path) -> None:
    staff = policy_dir / "staff.cedar"
    staff.write_text(
        staff.read_text(encoding="utf-8").replace(
            '["rider_assigned", "picked_up"].contains(resource.state)',
            '["rider_assigned", "picked_up", "delivered"].contains(resource.state)',
        ),
        encoding="utf-8",
    )
    result = veil("policy", "test", "--dir", str(policy_dir))
    assert result.exit_code == 1
    assert "FAIL but not once the order is delivered: expected deny, got allow" in result.output
    assert "1 failed" in result.output


def test_policy_explain_a_case(veil: Veil) -> None:
    output = _ok(
        veil(
            "policy",
            "explain",
            "--dir",
            str(DEFAULT_POLICY_DIR),
            "--case",
            "nobody approves their own request",
        )
    )
    assert "DENY: admin → approve_break_glass" in output
    assert "deny.break-glass.approve-own" in output
    assert "a break-glass request needs a second, different admin" in output
    missing = veil("policy", "explain", "--dir", str(DEFAULT_POLICY_DIR), "--case", "nope")
    assert missing.exit_code == 2


def test_tickets_and_a_live_explanation(veil: Veil, home: Path) -> None:
    _ok(veil("init"))
    settings = Settings(
        database_url=f"sqlite:///{home / 'var' / 'veil.db'}", key_file=home / "var" / "veil.key"
    )
    with pytest.warns(InsecureKeyStorageWarning):
        vault = open_vault(settings)
    staff = build_staff_city(vault)
    order_id = staff.city.order_in("picked_up")
    agent_key = staff.city.keys["agent-1"]
    opened = _ok(veil("tickets", "open", order_id, "--api-key", agent_key))
    assert "tkt_" in opened
    assert "agent" in opened
    mine = _ok(veil("tickets", "mine", "--api-key", agent_key))
    assert order_id in mine
    ticket_id = next(word for word in mine.split() if word.startswith("tkt_"))
    explained = _ok(
        veil(
            "policy",
            "explain",
            "--principal",
            staff.agents[0].principal_id,
            "--action",
            "reveal",
            "--order",
            order_id,
            "--purpose",
            "delivery_failed_contact_customer",
            "--fields",
            "phone",
        )
    )
    assert "ALLOW: agent → reveal" in explained
    assert "reveal.agent.delivery-failed" in explained
    # Another agent may not close it; the ticket's agent may.
    other = veil("tickets", "close", ticket_id, "--api-key", staff.city.keys["agent-2"])
    assert other.exit_code == 2
    assert "no such ticket" in other.output
    assert "closed" in _ok(veil("tickets", "close", ticket_id, "--api-key", agent_key))
    after = _ok(
        veil(
            "policy",
            "explain",
            "--principal",
            staff.agents[0].principal_id,
            "--action",
            "view_order",
            "--order",
            order_id,
        )
    )
    assert "DENY" in after
    assert "the support ticket is closed" in after
    bad_key = veil("tickets", "mine", "--api-key", "veil_nope")
    assert bad_key.exit_code == 2
    vault.engine.dispose()
