"""Field envelopes: round trips, and every way a blob can be moved or damaged fails closed."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from veil.crypto import DataKey, FieldRef, blob_key_id, open_field, seal_field
from veil.errors import DecryptionFailed

KEY = DataKey.generate()
WHERE = FieldRef(subject="sub_a1", record="ord_b2", field="address")
# Ids are type-prefixed base32/base64url, never containing the AAD separator.
ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=40)
places = st.builds(FieldRef, subject=ids, record=ids, field=ids)


@given(plaintext=st.binary(max_size=2048), where=places)
def test_seal_then_open_returns_the_plaintext(plaintext: bytes, where: FieldRef) -> None:
    blob = seal_field(KEY, plaintext, where)

    assert open_field(KEY, blob, where) == plaintext


def test_blob_layout_and_fresh_nonce() -> None:
    first = seal_field(KEY, "北京市朝阳区".encode(), WHERE)
    second = seal_field(KEY, "北京市朝阳区".encode(), WHERE)

    assert first[0] == 0x01
    assert first[1:17] == KEY.key_id
    assert len(first) == 1 + 16 + 12 + len("北京市朝阳区".encode()) + 16
    assert first != second


@pytest.mark.parametrize(
    "elsewhere",
    [
        pytest.param(dataclasses.replace(WHERE, subject="sub_other"), id="other-subject"),
        pytest.param(dataclasses.replace(WHERE, record="ord_other"), id="other-record"),
        pytest.param(dataclasses.replace(WHERE, field="phone"), id="other-field"),
    ],
)
def test_blob_opens_only_where_it_was_sealed(elsewhere: FieldRef) -> None:
    blob = seal_field(KEY, b"138 1234 5678", WHERE)

    with pytest.raises(DecryptionFailed):
        open_field(KEY, blob, elsewhere)


def test_blob_under_another_data_key_fails() -> None:
    blob = seal_field(KEY, b"secret", WHERE)

    with pytest.raises(DecryptionFailed):
        open_field(DataKey.generate(), blob, WHERE)


def test_another_secret_under_the_same_key_id_fails() -> None:
    # The key id is public; matching it must not be enough to open a blob.
    blob = seal_field(KEY, b"secret", WHERE)
    impostor = DataKey(KEY.key_id, bytes(32))

    with pytest.raises(DecryptionFailed):
        open_field(impostor, blob, WHERE)


@given(plaintext=st.binary(max_size=256), data=st.data())
def test_flipping_any_single_bit_fails(plaintext: bytes, data: st.DataObject) -> None:
    blob = seal_field(KEY, plaintext, WHERE)
    bit = data.draw(st.integers(min_value=0, max_value=len(blob) * 8 - 1), label="bit")
    tampered = bytearray(blob)
    tampered[bit // 8] ^= 1 << (bit % 8)

    with pytest.raises(DecryptionFailed):
        open_field(KEY, bytes(tampered), WHERE)


def test_every_truncation_fails() -> None:
    blob = seal_field(KEY, b"12 Jianguo Rd", WHERE)

    for length in range(len(blob)):
        with pytest.raises(DecryptionFailed):
            open_field(KEY, blob[:length], WHERE)


def test_appended_bytes_fail() -> None:
    blob = seal_field(KEY, b"12 Jianguo Rd", WHERE)

    with pytest.raises(DecryptionFailed):
        open_field(KEY, blob + b"\x00", WHERE)


def test_blob_key_id_names_the_key_without_decrypting() -> None:
    blob = seal_field(KEY, b"anything", WHERE)

    assert blob_key_id(blob) == KEY.key_id


@pytest.mark.parametrize("blob", [b"", b"\x01" * 10, b"\x02" + bytes(60)])
def test_blob_key_id_of_a_malformed_blob_fails(blob: bytes) -> None:
    with pytest.raises(DecryptionFailed):
        blob_key_id(blob)


def test_data_key_repr_hides_the_secret() -> None:
    key = DataKey.generate()

    for shown in (repr(key), str(key), f"{key}", repr([key])):
        assert key.secret.hex() not in shown
        assert "redacted" in shown
        assert key.key_id.hex() in shown


def test_generated_keys_differ_and_have_the_right_sizes() -> None:
    first, second = DataKey.generate(), DataKey.generate()

    assert (len(first.key_id), len(first.secret)) == (16, 32)
    assert first.key_id != second.key_id
    assert first.secret != second.secret
