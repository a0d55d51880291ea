"""The SoftHSM2 test token as tests see it (the fixture that makes it is in conftest.py)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from veil.crypto import Pkcs11KeyProvider


@dataclass(frozen=True)
class SoftHsmToken:
    """Where the test token is and how to log in to it."""

    module_path: str
    label: str
    pin: str
    so_pin: str
    config: Path

    def provider(self, *, prefix: str | None = None, pin: str | None = None) -> Pkcs11KeyProvider:
        """Open a provider on this token; by default under a fresh, unused label prefix."""
        return Pkcs11KeyProvider(
            module_path=self.module_path,
            token_label=self.label,
            pin=self.pin if pin is None else pin,
            key_label_prefix=prefix or fresh_prefix(),
        )


def fresh_prefix() -> str:
    """Return a KEK label prefix no other test uses, so tests share the token safely."""
    return f"veil-kek-t{secrets.token_hex(4)}"
