"""``quotas.toml``: shipped defaults far below the legal thresholds, bad files refused."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.errors import ConfigurationError
from veil.policy import (
    DEFAULT_POLICY_DIR,
    INSIDER_CEILING,
    PolicySource,
    QuotaTable,
    RoleQuota,
)

ROLES = ("service", "rider", "merchant", "customer", "agent", "analyst", "admin", "safety")


def test_the_shipped_quotas_are_far_below_the_insider_thresholds() -> None:
    quotas = PolicySource.load(DEFAULT_POLICY_DIR).quotas
    # 50 / 500 / 5,000 records, halved for insiders: 25 is the strictest line.
    assert INSIDER_CEILING == 50 // 2
    assert quotas.roles["agent"] == RoleQuota(per_principal=10, role_total=200)
    assert quotas.roles["safety"] == RoleQuota(per_principal=5, role_total=25)
    assert quotas.roles["admin"] == RoleQuota(per_principal=3, role_total=10)
    for quota in quotas.roles.values():
        assert quota.per_principal <= INSIDER_CEILING // 2
    # Roles not listed reveal nothing at all.
    for role in ("rider", "merchant", "service", "customer", "analyst"):
        assert quotas.limits_for("prn_x", role) == (0, 0)
    assert quotas.break_glass.minutes == 30


def test_a_directory_without_quotas_allows_no_reveals(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    (folder / "quotas.toml").unlink()
    assert PolicySource.load(folder).quotas.limits_for("prn_x", "agent") == (0, 0)


def test_per_principal_overrides_apply_to_that_principal_only() -> None:
    table = QuotaTable.parse(
        {
            "role": {"agent": {"per_principal": 10, "role_total": 100}},
            "principal": {"prn_" + "a" * 26: 20},
        },
        roles=ROLES,
    )
    assert table.limits_for("prn_" + "a" * 26, "agent") == (20, 100)
    assert table.limits_for("prn_" + "b" * 26, "agent") == (10, 100)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"role": {"agent": {"per_principal": 26, "role_total": 100}}}, "above 25"),
        ({"principal": {"prn_" + "a" * 26: 40}}, "above 25"),
        ({"principal": {"agent-7": 5}}, "principal ids"),
        ({"role": {"pilot": {"per_principal": 1}}}, "no such role"),
        ({"role": {"agent": {"per_principal": -1}}}, "whole number"),
        ({"role": {"agent": {"per_principal": True}}}, "whole number"),
        ({"role": {"agent": {"per_day": 3}}}, "unknown key(s) per_day"),
        ({"limits": {}}, "unknown section(s) limits"),
        ({"day": {"utc_offset_hours": 30}}, "utc_offset_hours"),
        ({"break_glass": {"minutes": 90, "max_minutes": 60}}, "minutes <= max_minutes"),
    ],
)
def test_bad_quota_tables_are_refused_with_the_entry_named(
    document: dict[str, object], problem: str
) -> None:
    with pytest.raises(ConfigurationError) as error:
        QuotaTable.parse(document, roles=ROLES, origin="quotas.toml")
    assert problem in error.value.message
    assert "quotas.toml" in error.value.message


def test_a_bad_quotas_file_refuses_the_whole_directory(tmp_path: Path) -> None:
    folder = tmp_path / "policies"
    shutil.copytree(DEFAULT_POLICY_DIR, folder)
    (folder / "quotas.toml").write_text("[role.agent]\nper_principal = 500\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="above 25"):
        PolicySource.load(folder)


CST = dt.timezone(dt.timedelta(hours=8))


@given(st.datetimes(min_value=dt.datetime(2020, 1, 1), max_value=dt.datetime(2040, 1, 1)))
def test_quota_days_follow_china_standard_time(moment: dt.datetime) -> None:
    table = QuotaTable()
    local = moment.replace(tzinfo=CST)
    now_ms = int(local.timestamp() * 1000)
    assert table.day_of(now_ms) == local.date().isoformat()
    end = table.day_end_ms(now_ms)
    assert table.day_of(end - 1) == local.date().isoformat()
    assert table.day_of(end) == (local.date() + dt.timedelta(days=1)).isoformat()
    assert 0 < end - now_ms <= 86_400_000
