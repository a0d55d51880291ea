"""Riders' and merchants' registered phones: sealed, blind-indexed, unique, rewrapped."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests._city import City
from tests.numbers._numbers_city import ALICE_PHONE, RIDER_PHONES, call, x_of
from veil.clock import to_epoch_ms
from veil.errors import Conflict, InvalidInput, NotFound
from veil.numbers import NumberDesk
from veil.store import PARTY_PHONE_KEYS, PARTY_PHONES
from veil.testing import FixedClock, InMemoryKeyProvider
from veil.vault import register_party_phone, rewrap_all
from veil.vault._keys import register_kek_versions


def test_a_phone_is_stored_sealed_and_indexed(city: City) -> None:
    with city.vault.engine.connect() as connection:
        rows = connection.execute(select(PARTY_PHONES)).all()
    assert len(rows) == 5  # three riders, two merchants
    by_principal = {row.principal_id: row for row in rows}
    rider = by_principal[city.riders[0].principal_id]
    for form in (RIDER_PHONES[0], RIDER_PHONES[0].removeprefix("+86")):
        assert form.encode() not in bytes(rider.phone_ct)
    assert bytes(rider.digest) == city.vault.blind_index.digest(RIDER_PHONES[0])[1]
    with city.vault.engine.connect() as connection:
        opened = city.vault.numbers.phones.open(connection, city.riders[0].principal_id)
    assert opened == RIDER_PHONES[0]


def test_one_phone_belongs_to_one_principal(city: City) -> None:
    with pytest.raises(Conflict, match="another rider or merchant"):
        register_party_phone(city.vault, city.riders[1].principal_id, "+86 139 0013 9001")
    # Re-registering one's own phone, or a new one, is fine.
    register_party_phone(city.vault, city.riders[0].principal_id, RIDER_PHONES[0])
    register_party_phone(city.vault, city.riders[0].principal_id, "+8613900139099")
    order_id = city.order_in("rider_assigned", rider=0)
    x = x_of(city.vault.view_order(city.riders[0], order_id))
    assert call(city.vault, city.service, "+8613900139099", x, "new").action == "connect"
    assert call(city.vault, city.service, RIDER_PHONES[0], x, "old").action == "reject"


def test_only_riders_and_merchants_register_phones(city: City) -> None:
    for principal in (city.service, city.staff["agent"], city.customers[0]):
        with pytest.raises(NotFound):
            register_party_phone(city.vault, principal.principal_id, "+8613900139088")
    with pytest.raises(NotFound):
        register_party_phone(city.vault, "prn_nonsense", "+8613900139088")
    with pytest.raises(InvalidInput):
        register_party_phone(city.vault, city.riders[0].principal_id, "12")


def test_kek_rotation_rewraps_the_party_phone_key(
    city: City, provider: InMemoryKeyProvider, clock: FixedClock
) -> None:
    order_id = city.order_in("picked_up", rider=0)
    x = x_of(city.vault.view_order(city.riders[0], order_id))
    provider.add_version()
    register_kek_versions(city.vault.engine, provider, now_ms=to_epoch_ms(clock.now()))
    rewrap_all(city.vault.engine, city.vault.keyring)
    with city.vault.engine.connect() as connection:
        assert set(connection.scalars(select(PARTY_PHONE_KEYS.c.kek_version))) == {2}
    # A fresh desk (a restarted process) unwraps the key under the new KEK.
    city.vault.numbers = NumberDesk(keyring=city.vault.keyring, blind_index=city.vault.blind_index)
    answer = call(city.vault, city.service, ALICE_PHONE, x, "after-rotation")
    assert (answer.action, answer.connect_to) == ("connect", RIDER_PHONES[0])
