"""What only the PKCS#11 provider has: a token, a PIN, a shared session, key attributes.

Behaviour every provider shares is in test_key_providers.py.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, ObjectClass
from pkcs11.exceptions import AttributeSensitive

from tests.crypto._softhsm import SoftHsmToken
from veil.crypto import Pkcs11KeyProvider
from veil.errors import ConfigurationError, DecryptionFailed

DEK = bytes(range(48))
CONTEXT = b"veil-dek\x00sub_pkcs11"


def test_missing_module_is_a_configuration_error(tmp_path: Path) -> None:
    missing = tmp_path / "libnothing.so"

    with pytest.raises(ConfigurationError, match="VEIL_PKCS11_MODULE") as caught:
        Pkcs11KeyProvider(str(missing), "veil-test", "1234")
    assert str(missing) in caught.value.message


def test_a_file_that_is_not_a_module_is_a_configuration_error(tmp_path: Path) -> None:
    bogus = tmp_path / "libbogus.so"
    bogus.write_bytes(b"not an ELF file")

    with pytest.raises(ConfigurationError, match="could not be loaded as a PKCS#11 module"):
        Pkcs11KeyProvider(str(bogus), "veil-test", "1234")


def test_empty_pin_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="VEIL_PKCS11_PIN"):
        Pkcs11KeyProvider("/nowhere/lib.so", "veil-test", "")


def test_unknown_token_names_the_tokens_present(softhsm: SoftHsmToken) -> None:
    with pytest.raises(ConfigurationError, match="no PKCS#11 token labelled 'elsewhere'") as caught:
        Pkcs11KeyProvider(softhsm.module_path, "elsewhere", softhsm.pin)
    assert repr(softhsm.label) in caught.value.message


def test_wrong_pin_is_a_configuration_error(softhsm: SoftHsmToken) -> None:
    # No provider is open here, so the token itself checks the PIN.
    with pytest.raises(ConfigurationError, match=r"PIN .* is incorrect") as caught:
        softhsm.provider(pin="0000")
    assert "0000" not in caught.value.message


def test_wrong_pin_is_refused_while_another_provider_is_logged_in(softhsm: SoftHsmToken) -> None:
    # The token would not check a second login, so the provider compares PINs.
    with softhsm.provider(), pytest.raises(ConfigurationError, match=r"PIN .* is incorrect"):
        softhsm.provider(pin="0000")


def test_empty_token_asks_for_veil_init(softhsm: SoftHsmToken) -> None:
    with softhsm.provider() as provider:
        assert list(provider.versions()) == []
        with pytest.raises(ConfigurationError, match="veil init"):
            provider.current_version()

        assert provider.ensure_initial_version() == 1
        assert provider.ensure_initial_version() == 1
        assert list(provider.versions()) == [1]
        assert provider.current_version() == 1


def test_kek_is_a_sensitive_non_extractable_token_key(softhsm: SoftHsmToken) -> None:
    with softhsm.provider() as provider:
        provider.ensure_initial_version()
        label = f"{provider.key_label_prefix}-1"

    # The provider is closed, so this test's own session may log in.
    token = pkcs11.lib(softhsm.module_path).get_token(token_label=softhsm.label)
    with token.open(user_pin=softhsm.pin) as session:
        key = session.get_key(object_class=ObjectClass.SECRET_KEY, label=label)
        assert key[Attribute.TOKEN] is True
        assert key[Attribute.PRIVATE] is True
        assert key[Attribute.SENSITIVE] is True
        assert key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.VALUE_LEN] == 32
        assert key[Attribute.ENCRYPT] is True
        assert key[Attribute.DECRYPT] is True
        for capability in (Attribute.WRAP, Attribute.UNWRAP, Attribute.SIGN, Attribute.DERIVE):
            assert key[capability] is False
        with pytest.raises(AttributeSensitive):
            key[Attribute.VALUE]


def test_keks_outlive_the_session(softhsm: SoftHsmToken) -> None:
    with softhsm.provider() as first:
        first.ensure_initial_version()
        wrapped = first.wrap(1, DEK, CONTEXT)
        prefix = first.key_label_prefix

    with softhsm.provider(prefix=prefix) as second:
        assert second.unwrap(1, wrapped, CONTEXT) == DEK


def test_other_label_prefixes_are_not_versions(softhsm: SoftHsmToken) -> None:
    with softhsm.provider() as provider:
        provider.ensure_initial_version()
        prefix = provider.key_label_prefix
        with softhsm.provider(prefix=f"{prefix}-archive") as neighbour:
            neighbour.ensure_initial_version()
            neighbour.add_version()

            assert list(provider.versions()) == [1]
            assert list(neighbour.versions()) == [1, 2]


def test_providers_on_one_token_share_versions_and_session(softhsm: SoftHsmToken) -> None:
    with softhsm.provider() as first:
        first.ensure_initial_version()
        second = softhsm.provider(prefix=first.key_label_prefix)
        try:
            assert second.current_version() == 1

            # A rotation through one provider (another process, in production)
            # is seen by the other without a restart.
            assert first.add_version() == 2
            assert second.current_version() == 2
            wrapped = first.wrap(2, DEK, CONTEXT)
            assert second.unwrap(2, wrapped, CONTEXT) == DEK
        finally:
            second.close()

        # Closing one provider must not log the other out.
        assert first.unwrap(2, wrapped, CONTEXT) == DEK


def test_closed_provider_refuses_work(softhsm: SoftHsmToken) -> None:
    provider = softhsm.provider()
    provider.ensure_initial_version()
    wrapped = provider.wrap(1, DEK, CONTEXT)

    provider.close()
    provider.close()

    with pytest.raises(DecryptionFailed):
        provider.unwrap(1, wrapped, CONTEXT)
    with pytest.raises(ConfigurationError, match="closed"):
        provider.wrap(1, DEK, CONTEXT)
    with pytest.raises(ConfigurationError, match="closed"):
        provider.versions()


def test_concurrent_wraps_and_unwraps(pkcs11_provider: Pkcs11KeyProvider) -> None:
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        context = f"veil-dek\x00sub_{worker}".encode()
        try:
            for _ in range(25):
                wrapped = pkcs11_provider.wrap(1, DEK, context)
                assert pkcs11_provider.unwrap(1, wrapped, context) == DEK
        except BaseException as exc:  # collected and re-raised in the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not failures
    assert not any(thread.is_alive() for thread in threads)
