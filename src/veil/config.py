"""Settings, read once at the edge from ``VEIL_*`` environment variables (and ``.env``).

Nothing else in Veil reads ``os.environ``. The README's settings table lists
every field below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from veil.policy import DEFAULT_POLICY_DIR

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Veil's configuration."""

    model_config = SettingsConfigDict(env_prefix="VEIL_", env_file=".env", extra="ignore")

    database_url: str = Field(
        "sqlite:///./var/veil.db", description="SQLAlchemy URL; postgresql://… in production."
    )
    key_provider: Literal["local", "pkcs11"] = Field(
        "local", description="Where KEKs live: a local key file or a PKCS#11 token."
    )
    key_file: Path = Field(Path("./var/veil.key"), description="Local key file (mode 0600).")
    pkcs11_module: str = Field(
        "/usr/lib/softhsm/libsofthsm2.so", description="PKCS#11 module (.so) path."
    )
    pkcs11_token_label: str = Field("veil", description="PKCS#11 token label.")
    pkcs11_pin: SecretStr = Field(SecretStr(""), description="PKCS#11 user PIN.")
    policy_dir: Path = Field(DEFAULT_POLICY_DIR, description="Directory of .cedar policies.")
    policy_watch_seconds: float = Field(
        2.0, ge=0, description="How often `veil serve` checks the policy files (0: never)."
    )
    rider_grace_seconds: int = Field(
        900, ge=0, le=86_400, description="How long after delivery the rider still sees the door."
    )
    numbers_provider: Literal["simulator", "aliyun"] = Field(
        "simulator",
        description="Virtual-number provider: the built-in simulator or Alibaba PNS.",
    )
    numbers_grace_seconds: int = Field(
        900,
        ge=0,
        le=86_400,
        description="How long after delivery a rider's virtual number still connects.",
    )
    numbers_cooldown_seconds: int = Field(
        1800,
        ge=0,
        le=86_400 * 7,
        description="How long an ended number stays away from its parties.",
    )
    numbers_pairs_per_number: int = Field(
        200, ge=1, le=10_000, description="Live bindings that may share one virtual number."
    )
    numbers_pressure_alert: float = Field(
        0.8, gt=0, le=1, description="Pool load from which allocation raises a pool-pressure alert."
    )
    numbers_sweep_seconds: float = Field(
        30.0, ge=0, description="How often `veil serve` releases expired bindings (0: never)."
    )
    sqlite_checkpoint_seconds: float = Field(
        2.0,
        ge=0,
        description="`veil serve` on SQLite: checkpoint the WAL in the background this often"
        " (0: inside commits, SQLite's default).",
    )
    sqlite_cache_mib: int = Field(
        32,
        ge=1,
        le=4096,
        description="SQLite page cache per connection, in MiB (the vault keeps one connection"
        " per worker thread; each fills only as far as it reads).",
    )
    aliyun_pns_endpoint: str = Field(
        "https://dyplsapi.aliyuncs.com/",
        description="Alibaba PNS endpoint (numbers_provider=aliyun).",
    )
    aliyun_pns_access_key_id: str = Field("", description="Alibaba Cloud AccessKey id.")
    aliyun_pns_access_key_secret: SecretStr = Field(
        SecretStr(""), description="Alibaba Cloud AccessKey secret."
    )
    aliyun_pns_pool_key: str = Field("", description="Alibaba PNS number pool key (PoolKey).")
    default_region: str = Field("CN", description="Region for phone numbers without +country.")
    dek_cache_ttl_seconds: float = Field(300.0, gt=0, description="Lifetime of a cached DEK.")
    dek_cache_size: int = Field(100_000, gt=0, description="Most DEKs kept in memory.")
    api_key_cache_seconds: float = Field(
        2.0, ge=0, description="How long an API key→principal lookup is reused."
    )
    max_body_bytes: int = Field(1_048_576, gt=0, description="Largest accepted request body.")
    host: str = Field("127.0.0.1", description="Address `veil serve` binds.")
    port: int = Field(8080, description="Port `veil serve` binds.")
    workers: int = Field(1, ge=1, description="Worker processes for `veil serve`.")
    database_app_role: str = Field(
        "", description="PostgreSQL role Veil connects as; migrations revoke audit UPDATE/DELETE."
    )
    audit_origin: str = Field(
        "veil.localhost/audit", description="The audit log's name on its signed checkpoints."
    )
    audit_signing_key: Path = Field(
        Path("./var/audit-signing.key"),
        description="Checkpoint signing key (mode 0600); the public key is next to it (.pub).",
    )
    audit_witness_dir: Path = Field(
        Path("./var/witness"), description="Where every checkpoint is also appended."
    )
    audit_integrator: bool = Field(
        True, description="Run the audit integrator with `veil serve` (one per log, locked)."
    )
    audit_integrator_mode: Literal["process", "thread"] = Field(
        "process",
        description=(
            "process: `veil serve` runs `veil audit integrate` as its own child process, on"
            " another core, so integration never takes the GIL from requests; thread: each"
            " worker runs it on a thread (single-core hosts)."
        ),
    )
    # ---- the watch: rate limits, detection, alerts, responses (README, "Watch") ----
    redis_url: str | None = Field(
        None,
        description=(
            "Redis shared by several Veil processes: rate limits, detection counters,"
            " suspensions (redis://host:6379/0). Unset: in-process memory."
        ),
    )
    redis_namespace: str = Field("veil", description="Prefix of every Redis key Veil writes.")
    watch_enabled: bool = Field(
        True, description="Rate limits, detection and automatic responses (the watch)."
    )
    rate_limits: dict[str, str] = Field(
        default_factory=dict,
        description=(
            'Rate-limit overrides (JSON), e.g. {"views": "120/minute", "agent.reveals": "none"}.'
        ),
    )
    watch_thresholds: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description=(
            'Detection threshold overrides (JSON), e.g. {"enumeration": {"misses_10m": 12}}.'
        ),
    )
    watch_responses: dict[str, str] = Field(
        default_factory=dict,
        description=(
            'Response per signal (JSON): record, step_up or suspend, e.g. {"harvesting": "record"}.'
        ),
    )
    watch_sweep_seconds: float = Field(
        600.0, ge=0, description="How often `veil serve` recomputes peer baselines (0: never)."
    )
    webhook_url: str | None = Field(
        None, description="SIEM endpoint receiving signed alert JSON (unset: no webhook)."
    )
    webhook_secret: SecretStr = Field(
        SecretStr(""), description="HMAC-SHA256 key of the webhook's X-Veil-Signature header."
    )
    webhook_max_attempts: int = Field(
        8, ge=1, le=100, description="Deliveries tried per alert change before giving up."
    )
    webhook_backoff_seconds: float = Field(
        2.0, gt=0, description="First retry delay of the webhook; doubles each try (max 10 min)."
    )
