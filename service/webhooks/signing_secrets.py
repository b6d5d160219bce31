"""Webhook signing secrets: made here, shown once, kept encrypted (Fernet) with a key from the settings.

A signature needs the secret itself, so it cannot be hashed as API keys are. Encrypted, a copy of the
database (a dump, a backup, a replica) is not enough to forge a tenant's webhooks: that also takes the key,
which lives in the environment of the API and the workers (UNLEARN_AUDIT_WEBHOOK_SECRET_KEY), or by default in
a key file in the data folder, made on first use. Losing the key means the webhooks must be made again.
"""

import base64
import os
import secrets
import tempfile
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from service.config import Settings

SECRET_PREFIX = "whsec_"  # Standard Webhooks: the base64 of the key's bytes, after this prefix
SECRET_BYTES = 32
KEY_FILE = "webhook-secret.key"


class SecretKeyError(RuntimeError):
    """This process's key cannot decrypt a stored secret (the API and the workers have different keys)."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def seal(settings: Settings, secret: str) -> str:
    return _fernet(_key(settings)).encrypt(secret.encode()).decode()


def unseal(settings: Settings, sealed: str) -> str:
    try:
        return _fernet(_key(settings)).decrypt(sealed.encode()).decode()
    except InvalidToken as error:
        raise SecretKeyError(
            "UNLEARN_AUDIT_WEBHOOK_SECRET_KEY: this key did not encrypt the webhook's secret; "
            "the API and every worker need the same key (or the same data folder)"
        ) from error


def _key(settings: Settings) -> str:
    if settings.webhook_secret_key is not None:
        return settings.webhook_secret_key.get_secret_value()
    return key_file(Path(settings.data_dir) / KEY_FILE)


def key_file(path: Path) -> str:
    """The key in this file, which is made (readable by its owner only) when missing, race-free: the first
    process to link its complete file wins and the others read that one."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, draft = tempfile.mkstemp(dir=path.parent, prefix=".webhook-key-")
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(Fernet.generate_key())
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(draft)
    return path.read_text().strip()


@lru_cache(maxsize=4)
def _fernet(key: str) -> Fernet:
    return Fernet(key.encode())
