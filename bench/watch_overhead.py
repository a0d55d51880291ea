"""What detection costs a rider view: the same vault with and without its watch, interleaved.

    .venv/bin/python bench/watch_overhead.py [--orders N] [--riders N] [--views N] [--rounds N]

In-process, SQLite (WAL) in ./bench/results/watch/, the watch as `veil serve`
builds it by default (in-process counters, inline detection). Riders hold five
picked-up orders each and re-open them, as a rider's app does. Rounds alternate
watch-off and watch-on over the same orders in short pairs, so a load change
from other work hits both sides of a pair alike; the median of the pairs' ratios
is reported, and, to be independent of noise altogether, the time spent inside
the watch per view, measured around it. Times are the thread's CPU time, which
other processes on a shared machine do not inflate. Also times `admit`
(authentication, then authentication plus the four rate-limit scopes in
memory) per request.
Goal (issue 7): detection adds at most 10 % to the rider-view cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _setup import fresh_vault, machine, picked_up_orders, seed_city

from veil.crypto import InsecureKeyStorageWarning
from veil.vault import RequestMeta, Vault, admit
from veil.watch import Flow, RateLimits, Watch

RESULTS = Path("bench/results/watch")
META = RequestMeta(request_id=None, client_ip="10.1.2.3")


def paired(vault: Vault, watch: Watch, views: Callable[[], float], rounds: int) -> dict[str, Any]:
    ratios, off, on = [], [], []
    for round_ in range(rounds):
        pair = {}
        for enabled in (False, True) if round_ % 2 == 0 else (True, False):
            vault.watch = watch if enabled else None
            pair[enabled] = views()
        off.append(pair[False])
        on.append(pair[True])
        ratios.append(pair[True] / pair[False])
    vault.watch = watch
    return {
        "view_us_without_watch": round(statistics.median(off), 1),
        "view_us_with_watch": round(statistics.median(on), 1),
        "paired_overhead_percent_median": round((statistics.median(ratios) - 1) * 100, 1),
        "paired_overhead_percent_quartiles": [
            round((q - 1) * 100, 1) for q in statistics.quantiles(ratios, n=4)
        ],
    }


def admissions(vault: Vault, watch: Watch, keys: list[str], n: int) -> dict[str, float]:
    def run() -> float:
        start = time.thread_time()
        for i in range(n):
            admit(vault, keys[i % len(keys)], flow=Flow.VIEWS, meta=META)
        return (time.thread_time() - start) / n * 1e6

    watch.limits = None
    auth_only = statistics.median(run() for _ in range(5))
    scopes = ("principal", "api_key", "client_ip", "views")
    watch.limits = RateLimits({scope: "1000000/minute" for scope in scopes})
    with_limits = statistics.median(run() for _ in range(5))
    return {
        "admit_us_authentication_only": round(auth_only, 1),
        "admit_us_with_four_rate_limits": round(with_limits, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--riders", type=int, default=400)
    parser.add_argument("--views", type=int, default=300, help="views per round")
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    warnings.simplefilter("ignore", InsecureKeyStorageWarning)

    vault = fresh_vault(RESULTS)
    watch = vault.watch
    assert watch is not None, "the bench needs VEIL_WATCH_ENABLED (the default)"
    city = seed_city(vault, riders=args.riders)
    targets = picked_up_orders(city, args.orders)
    cursor = 0

    def views(n: int = args.views) -> float:
        # CPU time of this thread: other work on a shared machine takes the
        # wall clock, not this thread's CPU. A view is CPU-bound (WAL commits
        # with synchronous=NORMAL do not wait for the disk).
        nonlocal cursor
        start = time.thread_time()
        for _ in range(n):
            rider, _, order_id = targets[cursor % len(targets)]
            cursor += 1
            vault.view_order(rider, order_id, meta=META)
        return (time.thread_time() - start) / n * 1e6

    views(len(targets))  # warm caches, counters and statements; every order seen once
    result: dict[str, Any] = {"machine": machine()}
    result.update(paired(vault, watch, views, args.rounds))

    spent = 0.0
    observe = watch.observe

    def timed(records: Any) -> None:
        nonlocal spent
        start = time.thread_time()
        observe(records)
        spent += time.thread_time() - start

    watch.observe = timed  # type: ignore[method-assign]
    count = args.views * 10
    during = views(count)
    watch.observe = observe  # type: ignore[method-assign]
    result["watch_us_per_view_inside"] = round(spent / count * 1e6, 1)
    result["view_us_during_that_run"] = round(during, 1)
    result["watch_share_of_view_percent"] = round(spent / count * 1e6 / during * 100, 1)
    keys = [key for _, key, _ in targets[: args.riders]]
    result.update(admissions(vault, watch, keys, args.views * 4))

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "overhead.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"machine: {result['machine']}")
    print(
        f"rider view: {result['view_us_without_watch']} µs without the watch,"
        f" {result['view_us_with_watch']} µs with it (medians); paired rounds"
        f" {result['paired_overhead_percent_median']:+.1f} %"
        f" (quartiles {result['paired_overhead_percent_quartiles']})"
    )
    print(
        f"inside the watch: {result['watch_us_per_view_inside']} µs per view of"
        f" {result['view_us_during_that_run']} µs ({result['watch_share_of_view_percent']} %)"
    )
    print(
        f"admission per request: {result['admit_us_authentication_only']} µs authentication,"
        f" {result['admit_us_with_four_rate_limits']} µs with four rate-limit scopes"
    )


if __name__ == "__main__":
    main()
