"""Small fakes for tests and the simulator: a clock, a key provider, a telephony provider.

These are real implementations of Veil's protocols, not mocks; production code
never imports them.
"""

from veil.testing._fakes import FixedClock, InMemoryKeyProvider
from veil.testing._pns import FakePnsServer

__all__ = ["FakePnsServer", "FixedClock", "InMemoryKeyProvider"]
