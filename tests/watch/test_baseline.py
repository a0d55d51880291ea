"""Peer baselines through the watch: daily usage saved on both backends, the sweep alerting."""

from __future__ import annotations

import datetime as dt

from tests.watch._trace import DAY, HOUR, MINUTE, T0, principal, revealed, ticket_opened, viewed
from tests.watch.conftest import rows
from veil.store import ALERTS, PRINCIPALS, WATCH_DAILY_USAGE
from veil.testing import FixedClock
from veil.vault import Vault
from veil.watch import UsageDay, Watch, load_usage, save_usage


def test_daily_usage_is_saved_never_lowered_and_read_back(vault: Vault) -> None:
    day = UsageDay("2026-12-01", "prn_a", "agent", views=10, reveals=2, subjects=8, night=1)
    assert save_usage(vault.engine, [day], T0) == 1
    # A process that restarted counts less: the stored day keeps the larger counts.
    lower = UsageDay("2026-12-01", "prn_a", "agent", views=4, reveals=3, subjects=2)
    save_usage(vault.engine, [lower], T0 + 1)
    [row] = rows(vault, WATCH_DAILY_USAGE)
    assert (row.views, row.reveals, row.subjects, row.night) == (10, 3, 8, 1)
    assert load_usage(vault.engine, "2026-12-02") == []
    assert load_usage(vault.engine, "2026-12-01")[0].reveals == 3


def test_the_sweep_flags_an_agent_revealing_far_above_its_peers(
    vault: Vault, watch: Watch, clock: FixedClock
) -> None:
    agents = [principal() for _ in range(10)]
    insider = agents[0]
    with vault.engine.begin() as connection:
        for who in agents:
            connection.execute(
                PRINCIPALS.insert().values(
                    id=who, role="agent", label=who[-8:], status="active", created_ms=0
                )
            )
    for day in range(3):
        start = T0 + day * DAY
        records = []
        for n, who in enumerate(agents):
            for k in range(20):
                records.append(viewed(who, "agent", f"ord_{day}_{n}_{k}", start + k * MINUTE))
            for k in range(1 + n % 2):
                records.append(revealed(who, f"ord_{day}_{n}_{k}", start + HOUR + k * MINUTE))
        for k in range(9):  # just under a quota of 10, every day, on tickets of its own
            records.append(ticket_opened(insider, f"ord_x{day}_{k}", start + 2 * HOUR + k * MINUTE))
            records.append(revealed(insider, f"ord_x{day}_{k}", start + 2 * HOUR + k * MINUTE + 1))
        watch.observe(records)
        clock.set(dt.datetime.fromtimestamp((start + 8 * HOUR) / 1000, tz=dt.UTC))
        changes = watch.sweep()
        if day == 0:
            assert changes == []  # one day is not a baseline
    [alert] = rows(vault, ALERTS)
    assert (alert.kind, alert.principal_id, alert.response) == ("peer_outlier", insider, "step_up")
    assert "reveals" in alert.summary and "self_tickets" in alert.summary
    assert len(rows(vault, WATCH_DAILY_USAGE)) == 30
