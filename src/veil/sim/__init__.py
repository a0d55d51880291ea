"""The synthetic city: the demo, a workload generator and red-team scenarios.

`run_simulation` drives a seeded city through Veil's routes in process
(`Gateway`: the same admission, policies, audit and watch as HTTP) for a
realistic day of orders, with attacks injected, and reports what was caught.
Production code paths never import this package.
"""

from veil.sim._attacks import SCENARIOS, Outcome, Scenario, scenario_named
from veil.sim._demo import DemoCity, seed_demo
from veil.sim._gateway import Gateway, Reply
from veil.sim._run import SimReport, run_simulation
from veil.sim._scraper import CaughtScraper, catch_a_scraper

__all__ = [
    "SCENARIOS",
    "CaughtScraper",
    "DemoCity",
    "Gateway",
    "Outcome",
    "Reply",
    "Scenario",
    "SimReport",
    "catch_a_scraper",
    "run_simulation",
    "scenario_named",
    "seed_demo",
]
