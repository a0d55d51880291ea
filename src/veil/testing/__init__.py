"""Small fakes for tests and the simulator: a settable clock and an in-memory key provider.

These are real implementations of Veil's protocols, not mocks; production code
never imports them.
"""

from veil.testing._fakes import FixedClock, InMemoryKeyProvider

__all__ = ["FixedClock", "InMemoryKeyProvider"]
