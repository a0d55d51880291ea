"""The synthetic city: demo data today, workloads and red-team scenarios later.

Production code paths never import this package.
"""

from veil.sim._demo import DemoCity, seed_demo

__all__ = ["DemoCity", "seed_demo"]
