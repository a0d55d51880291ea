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
