"""The vault's encryption keys: from `DATEV_CIN7_SECRET_KEY`, or from a key file in the home folder.

A key ring holds one or more Fernet keys; the first encrypts, every one decrypts (MultiFernet), which is
what makes rotation possible without a moment in which something cannot be read. The key file holds one
key per line, is created with mode 0600 on first use, and is refused if others can read it. Keys are
never printed, logged or put in an error message.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.errors import VaultError

ENV = "env"
FILE = "file"


class MissingKeyError(VaultError):
    """Neither the environment nor the home folder holds a key."""


@dataclass
class KeyRing:
    keys: list[bytes]
    source: str  # ENV or FILE
    path: Path | None = None
    _fingerprint: tuple[int, int, int] | None = field(default=None, repr=False)

    def __repr__(self) -> str:  # never show key material
        return f"KeyRing(keys={len(self.keys)}, source={self.describe()!r})"

    def describe(self) -> str:
        return f"the key file {self.path}" if self.source == FILE else f"{settings.SECRET_KEY_ENV}"

    def encrypt(self, plaintext: bytes) -> bytes:
        return self._multi().encrypt(plaintext)

    def decrypt(self, token: bytes) -> bytes:
        """Raises `cryptography.fernet.InvalidToken` if no key opens the token."""
        return self._multi().decrypt(token)

    def reencrypt(self, token: bytes) -> bytes:
        """The same plaintext, encrypted with the first key."""
        return self._multi().rotate(token)

    def opens_with_primary(self, token: bytes) -> bool:
        try:
            Fernet(self.keys[0]).decrypt(token)
        except InvalidToken:
            return False
        return True

    def _multi(self) -> MultiFernet:
        return MultiFernet([Fernet(key) for key in self.keys])

    def is_stale(self) -> bool:
        """True if the key file changed on disk since it was read (another process rotated)."""
        return self.source == FILE and self.path is not None and _fingerprint(self.path) != self._fingerprint


def parse_keys(text: str, origin: str) -> list[bytes]:
    keys = [part.encode() for part in re.split(r"[\s,]+", text.strip()) if part]
    if not keys:
        raise VaultError(f"{origin} holds no key.")
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise VaultError(
                f"{origin} holds something that is not a Fernet key (44 characters of URL-safe base64)."
            ) from None
    return keys


def env_keyring() -> KeyRing | None:
    value = os.environ.get(settings.SECRET_KEY_ENV, "")
    if not value.strip():
        return None
    return KeyRing(keys=parse_keys(value, settings.SECRET_KEY_ENV), source=ENV)


def read_key_file(path: Path) -> KeyRing:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise VaultError(f"The key file {path} does not exist.") from None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise VaultError(f"The key file {path} can be read by other users; run `chmod 600 {path}`.")
    keys = parse_keys(path.read_text(encoding="ascii", errors="replace"), f"The key file {path}")
    return KeyRing(keys=keys, source=FILE, path=path, _fingerprint=_fingerprint(path))


def load_keyring(*, create: bool) -> KeyRing:
    """The configured keys: the environment wins over the key file; create the file only if asked."""
    from_env = env_keyring()
    if from_env is not None:
        return from_env
    path = settings.key_file_path()
    if path.exists():
        return read_key_file(path)
    if not create:
        raise MissingKeyError(
            f"No encryption key: set {settings.SECRET_KEY_ENV} or run `datev-cin7 init` to create {path}."
        )
    write_key_file(path, [Fernet.generate_key()])
    return read_key_file(path)


def write_key_file(path: Path, keys: list[bytes]) -> None:
    """Replace the key file atomically; it is never readable by others, not even for a moment."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        os.write(descriptor, b"".join(key + b"\n" for key in keys))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _fingerprint(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return (info.st_ino, info.st_mtime_ns, info.st_size)
