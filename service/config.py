"""The service's settings: one typed object read from the environment (and a .env file when present).

The API, the workers, the migrations and the CLI all read these, so that `unlearn-audit keys create` and a
running `unlearn-audit serve` agree on the data folder and the database without any flag.
"""

import base64
import binascii
import os
import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from fsspec import available_protocols
from fsspec.core import split_protocol
from limits import parse
from platformdirs import user_data_dir
from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

GPU_QUEUE = "gpu"
CPU_QUEUE = "cpu"
PRIVATE_FOLDER_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:\d{1,5})?")


class FolderError(OSError):
    """A configured folder that cannot be created or written; the message names the setting and the path."""


def _url_field(name: str, description: str) -> Any:
    return Field(None, validation_alias=AliasChoices(name, f"UNLEARN_AUDIT_{name}"), description=description)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UNLEARN_AUDIT_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default_factory=lambda: Path(user_data_dir("unlearn-audit")),
        description="the embedded default keeps its database, broker, models and checkpoints here",
    )
    database_url: str | None = _url_field("DATABASE_URL", "SQLAlchemy URL; default: SQLite in data_dir")
    broker_url: str | None = _url_field("BROKER_URL", "Celery broker; default: REDIS_URL, else SQLite in data_dir")
    redis_url: str | None = _url_field("REDIS_URL", "Redis broker URL (production)")
    allowed_hub_orgs: list[str] = Field(default_factory=list, description="hub organisations models may come from")
    model_roots: list[Path] = Field(
        default_factory=list,
        description="local model folders: tenant T reads models under ROOT/T/ (and under ROOT/ itself only when "
        "shared_model_roots is on)",
    )
    shared_model_roots: bool = Field(False, description="every tenant may also read any model under the roots")
    checkpoint_dir: Path | None = Field(
        None,
        description="where unlearning results are saved; with artifact_url also this machine's verified copies of "
        "the store's (a cache: every worker of a deployment reads its own)",
    )
    artifact_url: str | None = Field(
        None,
        description="fsspec URL under which every worker finds the unlearned models of an audit "
        "(file:///srv/artifacts, s3://bucket/prefix with the s3 extra); default: checkpoint_dir, one machine only",
    )
    artifact_endpoint_url: str | None = Field(
        None, description="the S3 API endpoint of an s3:// artifact_url (MinIO, Ceph); default: AWS"
    )
    max_upload_bytes: int = Field(64 * 1024 * 1024, ge=1024, description="largest request body accepted")
    max_corpus_items: int = Field(100_000, ge=1, description="most items (all parts together) in one corpus bundle")
    max_runs_per_audit: int = Field(200, ge=1, description="most runs one audit may plan")
    max_models_per_audit: int = Field(20, ge=1, description="most models in one audit (target, unlearned, unlearning)")
    max_precisions_per_audit: int = Field(16, ge=1, description="most precisions in one audit")
    max_unlearning_steps: int = Field(
        10_000, ge=1, description="largest max_steps of an unlearning recipe (times its gradient_accumulation)"
    )
    max_unlearning_epochs: int = Field(20, ge=1, description="most epochs of an unlearning recipe")
    max_unfinished_runs_per_tenant: int = Field(
        1000, ge=1, description="a tenant's queued, waiting and running runs together; more is refused with 429"
    )
    max_corpus_bytes_per_tenant: int = Field(
        1024**3, ge=1, description="a tenant's stored corpora together; more is refused with 429"
    )
    auth_failure_rate: str = Field(
        "30/minute", description="failed authentications one client address may make (e.g. 30/minute); then 429"
    )
    write_rate: str = Field("300/minute", description="writes (POST, PUT, PATCH, DELETE) per API key; then 429")
    quota_retry_after_s: int = Field(60, ge=1, le=86400, description="Retry-After of a 429 for a tenant quota")
    min_free_bytes: int = Field(
        1024**3, ge=0, description="/readyz reports unavailable below this free space in the data or checkpoint folder"
    )
    docs_access: Literal["public", "key", "off"] = Field(
        "public", description="/docs, /redoc and /openapi.json: open, behind an API key, or not served"
    )
    header_timeout_s: float = Field(10.0, gt=0.0, description="a request's headers must arrive within this time")
    body_timeout_s: float = Field(15.0, gt=0.0, description="longest wait for the next part of a request body")
    keep_alive_timeout_s: float = Field(5.0, gt=0.0, description="an idle connection is closed after this time")
    run_time_limit_s: int = Field(6 * 3600, ge=1, description="a run is stopped after this many seconds")
    max_model_bytes: int = Field(80 * 1024**3, ge=1, description="largest model checkpoint a worker loads")
    visibility_timeout_s: int = Field(
        12 * 3600, ge=1, description="an unacknowledged task is redelivered after this; longer than the longest run"
    )
    fair_share_delay_s: float = Field(
        5.0, gt=0.0, le=3600.0, description="a run held back so that a less recently served tenant goes first is "
        "offered again after this many seconds"
    )  # fmt: skip
    progress_interval_s: float = Field(1.0, ge=0.0, description="at most one progress write per run per interval")
    resend_interval_s: float = Field(
        30.0, ge=0.0, description="how often the API re-sends runs stored while the broker was down (0: never)"
    )
    retry_after_s: int = Field(5, ge=1, le=3600, description="Retry-After of a 202: seconds before the first poll")
    webhook_allow_private: bool = Field(
        False,
        description="webhook URLs may reach loopback, link-local, private, multicast, unspecified or reserved "
        "addresses (a development setting: it opens the service to SSRF)",
    )
    webhook_max_per_tenant: int = Field(10, ge=1, le=1000, description="webhooks one tenant may have")
    webhook_timeout_s: float = Field(
        10.0, gt=0.0, le=120.0, description="one delivery attempt, from DNS to the answer's headers, in total"
    )
    webhook_retry_base_s: float = Field(10.0, gt=0.0, description="delay after a first failed attempt, then doubled")
    webhook_retry_max_s: float = Field(3600.0, gt=0.0, description="longest delay between two delivery attempts")
    webhook_give_up_s: float = Field(
        24 * 3600.0, gt=0.0, le=7 * 24 * 3600.0, description="a delivery not accepted this long after its event fails"
    )
    webhook_secret_key: SecretStr | None = Field(
        None,
        description="Fernet key (32 url-safe base64 bytes) that encrypts webhook signing secrets at rest; the API "
        "and every worker need the same one; default: the key file webhook-secret.key in data_dir, made on first use",
    )

    metrics_access: Literal["off", "public", "token"] = Field(
        "off", description="/metrics (Prometheus): not served, open, or behind metrics_token"
    )
    metrics_token: SecretStr | None = Field(
        None, min_length=16, description="the bearer token /metrics asks for when metrics_access is token"
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="origins (scheme://host[:port]) whose pages may call the API from a browser; none by default",
    )

    @field_validator("cors_origins")
    @classmethod
    def _listed_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin == "*":
                raise ValueError("'*' is refused: list each origin that may call the API (scheme://host[:port])")
            if not ORIGIN.fullmatch(origin):
                raise ValueError(f"'{origin}' is not an origin: scheme://host[:port], no path, e.g. https://a.example")
        return origins

    @model_validator(mode="after")
    def _metrics_token_when_asked(self) -> "Settings":
        if self.metrics_access == "token" and self.metrics_token is None:
            raise ValueError("metrics_token: required when metrics_access is token")
        return self

    @field_validator("auth_failure_rate", "write_rate")
    @classmethod
    def _a_rate(cls, rate: str) -> str:
        try:
            parse(rate)
        except ValueError as error:
            raise ValueError(f"a rate such as '30/minute' or '5 per second': {error}") from None
        return rate

    @field_validator("webhook_secret_key")
    @classmethod
    def _a_fernet_key(cls, key: SecretStr | None) -> SecretStr | None:
        if key is None:
            return None
        try:
            raw = base64.urlsafe_b64decode(key.get_secret_value().encode())
        except (binascii.Error, ValueError) as error:
            raise ValueError(f"not url-safe base64: {error}") from error
        if len(raw) != 32:
            raise ValueError(f"a Fernet key is 32 bytes once decoded, not {len(raw)}")
        return key

    # Where and how workers evaluate (read by the engine; the API never uses them).
    device: str = Field(
        "auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$", description="auto (the first CUDA device when one is visible), "
        "cpu, cuda or cuda:N"
    )  # fmt: skip
    torch_threads: int | None = Field(
        None, ge=1, le=1024, description="threads torch uses for evaluation on this worker; null: the cores this "
        "process may use (the embedded server leaves one for the API)"
    )  # fmt: skip
    batch_size: int | None = Field(
        None, ge=1, le=1024, description="items per generation batch on this worker, at most the spec's "
        "limits.batch_size; null: on CUDA as many as fit in free GPU memory, on a CPU the spec's"
    )  # fmt: skip

    @field_validator("artifact_endpoint_url")
    @classmethod
    def _endpoint_url(cls, value: str | None) -> str | None:
        if value and not re.fullmatch(r"https?://\S+", value):
            raise ValueError("artifact_endpoint_url: an http:// or https:// URL")
        return value or None

    @field_validator("artifact_url")
    @classmethod
    def _artifact_url(cls, value: str | None) -> str | None:
        if not value:  # unset, or empty (compose's `${ARTIFACT_URL:-}`)
            return None
        protocol, path = split_protocol(value)
        if protocol is None or protocol not in available_protocols() or not path.strip("/"):
            raise ValueError(
                "artifact_url: an fsspec URL with a folder, such as file:///srv/artifacts or s3://bucket/prefix"
            )
        return value.rstrip("/")

    @model_validator(mode="after")
    def _defaults_under_data_dir(self) -> "Settings":
        if self.database_url is None:
            self.database_url = f"sqlite:///{self.data_dir / 'unlearn-audit.sqlite'}"
        if self.broker_url is None:
            self.broker_url = self.redis_url or f"sqla+sqlite:///{self.data_dir / 'broker.sqlite'}"
        if self.checkpoint_dir is None:
            self.checkpoint_dir = self.data_dir / "checkpoints"
        if not self.model_roots:
            self.model_roots = [self.data_dir / "models"]
        return self

    @property
    def sqlalchemy_url(self) -> str:
        return str(self.database_url)

    def ensure_folders(self) -> None:
        """Create the folders (the data folder private to this user) and check that the data and checkpoint
        folders can be written (model roots may be read-only).

        The embedded SQLite files are made private too (SQLite gives the -wal and -shm files it creates the
        mode of the database file). Raises FolderError naming the setting and the folder.
        """
        _usable_folder("data_dir", Path(self.data_dir), private=True, written=True)
        _usable_folder("checkpoint_dir", Path(str(self.checkpoint_dir)), private=False, written=True)
        for root in self.model_roots:
            _usable_folder("model_roots", Path(root), private=False, written=False)
        for url in (self.sqlalchemy_url, str(self.broker_url)):
            path = _sqlite_file(url)
            if path is not None and path.parent == Path(self.data_dir):
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE_MODE))
                for file in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
                    if file.exists():
                        file.chmod(PRIVATE_FILE_MODE)


def _usable_folder(setting: str, folder: Path, private: bool, written: bool) -> None:
    try:
        created = not folder.exists()
        folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER_MODE if private else 0o777)
        if private and created:
            folder.chmod(PRIVATE_FOLDER_MODE)
        if written:
            with tempfile.TemporaryFile(dir=folder):
                pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise FolderError(f"{setting}: the folder {folder} cannot be created or written ({reason})") from None


def _sqlite_file(url: str) -> Path | None:
    for prefix in ("sqlite:///", "sqla+sqlite:///"):
        if url.startswith(prefix):
            return Path(url.removeprefix(prefix))
    return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests build their own `Settings` and pass them to `create_app`)."""
    return Settings()
