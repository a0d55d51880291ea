"""The demo's scraper: a rider key walking random order ids until the watch stops it.

`veil demo seed` runs it once, so that `make run` shows detection at work:
``veil alerts list`` lists the enumeration alert, and ``veil principals list``
shows the scraper suspended.
"""

from __future__ import annotations

from dataclasses import dataclass

from veil.ids import IdKind, new_id
from veil.sim._gateway import Gateway
from veil.vault import Vault

__all__ = ["CaughtScraper", "catch_a_scraper"]

SCRAPER_IP = "203.0.113.66"


@dataclass(frozen=True)
class CaughtScraper:
    """Who scraped, how many requests got through before its key stopped, and whether it did."""

    principal_id: str
    label: str
    api_key: str
    requests: int
    suspended: bool


def catch_a_scraper(
    vault: Vault, *, label: str = "rider-scraper", max_requests: int = 200
) -> CaughtScraper | None:
    """Create a rider whose key enumerates order ids; return what happened (None: no watch)."""
    if vault.watch is None:
        return None
    principal_id, api_key = vault.create_principal("rider", label)
    gateway = Gateway(vault)
    for sent in range(max_requests):
        reply = gateway.view_order(api_key, SCRAPER_IP, new_id(IdKind.ORDER))
        vault.watch.flush()
        if reply.status == 401:
            return CaughtScraper(principal_id, label, api_key, sent, suspended=True)
    return CaughtScraper(principal_id, label, api_key, max_requests, suspended=False)
