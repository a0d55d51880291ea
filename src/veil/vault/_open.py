"""Opening a vault from settings, and initialising a new one (`veil init`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from veil.clock import Clock, SystemClock, to_epoch_ms
from veil.config import Settings
from veil.crypto import DataKeyCache, KeyProvider, Keyring, LocalKeyFile, Pkcs11KeyProvider
from veil.errors import ConfigurationError
from veil.policy import PolicyEngine, PolicySource
from veil.store import current_revision, head_revision, make_engine, migrate
from veil.vault._keys import load_blind_index, register_kek_versions, verify_keks
from veil.vault._numbers import number_desk_from_settings
from veil.vault._vault import Vault
from veil.watch import Watch

__all__ = ["InitReport", "init_vault", "key_provider_from_settings", "open_vault"]


@dataclass(frozen=True)
class InitReport:
    """What `veil init` did."""

    created_key_file: bool
    migrated_to: str | None
    registered_kek_versions: list[int]


def key_provider_from_settings(settings: Settings, *, create: bool = False) -> KeyProvider:
    """Return the configured KEK provider; with `create`, make a missing local key file."""
    if settings.key_provider == "local":
        if create and not settings.key_file.exists():
            return LocalKeyFile.create(settings.key_file)
        return LocalKeyFile.open(settings.key_file)
    provider = Pkcs11KeyProvider(
        module_path=settings.pkcs11_module,
        token_label=settings.pkcs11_token_label,
        pin=settings.pkcs11_pin.get_secret_value(),
    )
    if create:
        provider.ensure_initial_version()
    return provider


def init_vault(
    settings: Settings, *, provider: KeyProvider | None = None, clock: Clock | None = None
) -> InitReport:
    """Create the key material and schema a new vault needs (idempotent)."""
    created = False
    if provider is None:
        created = settings.key_provider == "local" and not settings.key_file.exists()
        provider = key_provider_from_settings(settings, create=True)
    engine = make_engine(
        settings.database_url, create=True, sqlite_cache_mib=settings.sqlite_cache_mib
    )
    try:
        _refuse_foreign_database(engine, provider)
        migrate(engine, app_role=settings.database_app_role or None)
        now_ms = to_epoch_ms((clock or SystemClock()).now())
        added = register_kek_versions(engine, provider, now_ms=now_ms)
        verify_keks(engine, provider)
        return InitReport(created, current_revision(engine), added)
    finally:
        engine.dispose()


def _refuse_foreign_database(engine: Engine, provider: KeyProvider) -> None:
    # A database that already has keys registered must match the provider
    # before init touches it; otherwise init would mix two key sets.
    if current_revision(engine) is not None:
        try:
            verify_keks(engine, provider)
        except ConfigurationError as exc:
            if "no keys registered" not in exc.message:
                raise


def open_vault(
    settings: Settings,
    *,
    provider: KeyProvider | None = None,
    clock: Clock | None = None,
    engine: Engine | None = None,
) -> Vault:
    """Open an initialised vault, checking schema, keys and policies before serving.

    Raises:
        ConfigurationError: with a message that says what to do; nothing is written.
    """
    provider = provider or key_provider_from_settings(settings)
    engine = engine or make_engine(
        settings.database_url, sqlite_cache_mib=settings.sqlite_cache_mib
    )
    revision = current_revision(engine)
    if revision is None:
        raise ConfigurationError(
            f"the database at {engine.url.render_as_string()} is empty; run `veil init` first"
        )
    if revision != head_revision():
        raise ConfigurationError(
            f"the database schema is at {revision}, this Veil needs {head_revision()};"
            " run `veil init` to migrate"
        )
    verify_keks(engine, provider)
    blind_index = load_blind_index(engine, provider)
    policy = PolicyEngine(
        PolicySource.load(settings.policy_dir), rider_grace_ms=settings.rider_grace_seconds * 1000
    )
    keyring = Keyring(
        provider,
        DataKeyCache(
            max_entries=settings.dek_cache_size, ttl_seconds=settings.dek_cache_ttl_seconds
        ),
    )
    clock = clock or SystemClock()
    return Vault(
        engine=engine,
        keyring=keyring,
        blind_index=blind_index,
        policy=policy,
        clock=clock,
        default_region=settings.default_region,
        api_key_cache_seconds=settings.api_key_cache_seconds,
        numbers=number_desk_from_settings(settings, keyring, blind_index, clock),
        watch=(
            Watch.from_settings(settings, engine=engine, clock=clock)
            if settings.watch_enabled
            else None
        ),
    )
