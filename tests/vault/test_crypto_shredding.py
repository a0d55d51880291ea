"""Crypto-shredding and AAD binding, proved on the raw rows of both backends.

After `erase_subject`, no key that can be obtained from the database opens any
ciphertext of the erased subject. And a ciphertext copied into another row
does not open there: the view fails closed instead of showing the wrong phone.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from tests._city import ALICE, BOB, City, build_city
from veil.audit import AuditTag
from veil.crypto import (
    DataKey,
    DataKeyCache,
    Keyring,
    WrappedKey,
    blob_key_id,
    open_field,
)
from veil.errors import DecryptionFailed, NotFound
from veil.store import AUDIT_EVENTS, ORDERS, SUBJECTS
from veil.vault import Vault
from veil.vault._views import ORDER_FIELDS, order_field_ref


@pytest.fixture
def city(vault: Vault) -> City:
    return build_city(vault)


def _rows(vault: Vault, table: Any, *where: Any) -> list[Any]:
    with vault.engine.connect() as connection:
        return list(connection.execute(select(table).where(*where)).all())


def _every_data_key_in_the_database(vault: Vault) -> list[DataKey]:
    """Unwrap every wrapped DEK still stored, with a fresh keyring (no cached keys)."""
    keyring = Keyring(vault.keyring.provider, DataKeyCache(max_entries=10, ttl_seconds=1))
    keys = []
    for row in _rows(vault, SUBJECTS, SUBJECTS.c.dek_wrapped.is_not(None)):
        keys.append(keyring.unwrap(row.id, WrappedKey(row.kek_version, row.dek_wrapped)))
    return keys


def test_nothing_of_an_erased_subject_decrypts_with_any_key_left(city: City) -> None:
    vault = city.vault
    erased = city.subjects[0]
    orders = [city.order_in(state, subject=0) for state in ("created", "picked_up", "delivered")]
    kept = city.order_in("picked_up", subject=1)
    # Before erasure the ciphertexts do open (so the check below is not vacuous).
    assert vault.view_order(city.customers[0], orders[1])["customer"]["name"] == ALICE[0]

    vault.erase_subject(city.service, erased)

    [subject_row] = _rows(vault, SUBJECTS, SUBJECTS.c.id == erased)
    assert subject_row.dek_wrapped is None
    assert subject_row.kek_version is None
    assert subject_row.name_ct is None
    assert subject_row.phones_ct is None
    assert subject_row.addresses_ct is None
    assert subject_row.erased_ms is not None
    assert vault.keyring.cache.get(erased) is None

    candidates = _every_data_key_in_the_database(vault)
    assert len(candidates) == len(city.subjects) - 1
    order_rows = _rows(vault, ORDERS, ORDERS.c.subject_id == erased)
    assert sorted(row.id for row in order_rows) == sorted(orders)
    attempts = 0
    for row in order_rows:
        for field in ORDER_FIELDS:
            blob = getattr(row, f"{field}_ct")
            if blob is None:
                continue
            where = order_field_ref(erased, row.id, field)
            for key in candidates:
                # As stored, the key id already tells the key apart ...
                with pytest.raises(DecryptionFailed):
                    open_field(key, blob, where)
                # ... and even forging the key id, the GCM tag does not verify.
                forged = DataKey(blob_key_id(blob), key.secret)
                with pytest.raises(DecryptionFailed):
                    open_field(forged, blob, where)
                attempts += 1
    assert attempts >= len(orders) * 5 * len(candidates)

    # The other customer's data is untouched and still opens.
    [other] = _rows(vault, ORDERS, ORDERS.c.id == kept)
    opened = {
        open_field(key, other.phone_ct, order_field_ref(city.subjects[1], kept, "phone"))
        for key in candidates
        if key.key_id == blob_key_id(other.phone_ct)
    }
    assert opened == {b"+8613800138002"}


def test_erased_subject_views_carry_no_contact_data(city: City) -> None:
    order_id = city.order_in("picked_up", subject=0)
    city.vault.erase_subject(city.service, city.subjects[0])
    for caller in (city.customers[0], city.riders[0], city.merchants[0]):
        view = city.vault.view_order(caller, order_id)
        assert view["erased"] is True
        assert not {"customer", "address", "note"} & set(view)
        assert view["state"] == "picked_up"
    service_view = city.vault.view_order(city.service, order_id)
    assert service_view["subject_id"] == city.subjects[0]


def test_erased_subject_cannot_be_found_by_phone_in_any_format(city: City) -> None:
    city.vault.erase_subject(city.service, city.subjects[0])
    for phone in (ALICE[1], "13800138001", "+8613800138001", "138-0013-8001"):
        with pytest.raises(NotFound):
            city.vault.lookup_subjects_by_phone(city.service, phone)
    assert city.vault.lookup_subjects_by_phone(city.service, BOB[1]) == [city.subjects[1]]


def test_erasure_survives_a_cold_start(city: City) -> None:
    # A new keyring (a restarted process) has nothing cached that could still open the data.
    order_id = city.order_in("picked_up", subject=0)
    city.vault.erase_subject(city.service, city.subjects[0])
    city.vault.keyring.cache.clear()
    assert city.vault.view_order(city.customers[0], order_id)["erased"] is True


# ---------------------------------------------------------------- AAD binding


def _copy_column(
    vault: Vault, column: str, source: str, target: str, *, into: str | None = None
) -> None:
    [row] = _rows(vault, ORDERS, ORDERS.c.id == source)
    with vault.engine.begin() as connection:
        connection.execute(
            update(ORDERS)
            .where(ORDERS.c.id == target)
            .values({into or column: getattr(row, column)})
        )


def _viewed_rows(vault: Vault, order_id: str) -> list[Any]:
    return _rows(
        vault,
        AUDIT_EVENTS,
        AUDIT_EVENTS.c.order_id == order_id,
        AUDIT_EVENTS.c.tag == AuditTag.ORDER_VIEWED.value,
    )


@pytest.mark.parametrize(
    ("source_subject", "column", "into"),
    [
        (0, "phone_ct", None),  # same subject, same field, another order
        (1, "phone_ct", None),  # another subject's phone
        (0, "name_ct", "phone_ct"),  # same order's name put in the phone column
        (0, "addr_detail_ct", None),  # the door of another order of the same customer
    ],
)
def test_a_ciphertext_moved_to_another_row_fails_closed(
    city: City, source_subject: int, column: str, into: str | None
) -> None:
    target = city.order_in("picked_up", subject=0, rider=0)
    source = target if into else city.order_in("picked_up", subject=source_subject, rider=1)
    before = city.vault.view_order(city.customers[0], target)
    _copy_column(city.vault, column, source, target, into=into)
    city.vault.keyring.cache.clear()
    # A rider's view opens no phone (it carries a virtual number instead), so
    # only the customer's view reads a swapped phone column.
    readers = [city.customers[0]]
    if (into or column) != "phone_ct":
        readers.append(city.riders[0])
    for caller in readers:
        with pytest.raises(DecryptionFailed) as error:
            city.vault.view_order(caller, target)
        assert "8001" not in error.value.message
        assert "8002" not in error.value.message
    # The audit log does not claim a disclosure that did not happen.
    assert len(_viewed_rows(city.vault, target)) == 1  # the view taken before the swap
    assert before["customer"]["phone"] == "+8613800138001"


def test_a_swapped_ciphertext_is_an_opaque_500_over_http(city: City) -> None:
    from tests.api._http import TestClient, bearer, error_of
    from veil.api import create_app

    target = city.order_in("picked_up", subject=0)
    source = city.order_in("picked_up", subject=1)
    _copy_column(city.vault, "phone_ct", source, target)
    with TestClient(create_app(city.vault), raise_server_exceptions=False) as client:
        response = client.get(f"/v1/orders/{target}", headers=bearer(city.keys["customer-0"]))
    error = error_of(response, 500, "internal_error")
    assert error["message"] == "internal error"
    assert "138" not in response.text
