"""The credentials vault: secrets encrypted with Fernet in the state database.

Each secret is sealed together with its own address (connection, service, name), so a ciphertext copied
onto another row does not decrypt there. Values come back as `Secret`, which never shows its value in
`repr`, `str`, logs or pickles; only `reveal()` gives it, at the moment it is sent.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NoReturn

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.errors import VaultError
from datev_cin7_pipeline.redaction import remember
from datev_cin7_pipeline.store import keys as keyfiles
from datev_cin7_pipeline.store.audit import record_event
from datev_cin7_pipeline.store.connections import connection_id, ensure_connection
from datev_cin7_pipeline.store.database import StateStore
from datev_cin7_pipeline.store.models import Connection, Credential, utcnow

SERVICES = ("cin7", "datev", "webhook")


class Secret:
    """A secret value that does not leak by accident."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        remember(value)  # so that a server echoing it back cannot put it into an error text

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> NoReturn:
        raise TypeError("A Secret cannot be pickled.")


@dataclass(frozen=True)
class CredentialInfo:
    """What may be shown about a credential: where it belongs and when it was set, never its value."""

    connection: str
    service: str
    name: str
    set_at: dt.datetime
    version: int


@dataclass(frozen=True)
class RotationReport:
    reencrypted: int
    key_source: str
    kept_previous_key: bool


class CredentialsVault:
    def __init__(self, store: StateStore, actor: str = "cli") -> None:
        self.store = store
        self.actor = actor
        self._keyring: keyfiles.KeyRing | None = None

    # --- reading -----------------------------------------------------------------------------

    def get(self, connection: str, service: str, name: str) -> Secret | None:
        found = self.get_with_version(connection, service, name)
        return found[0] if found else None

    def get_with_version(self, connection: str, service: str, name: str) -> tuple[Secret, int] | None:
        with self.store.session() as session:
            row = session.execute(
                select(Credential.ciphertext, Credential.version)
                .join(Connection, Connection.id == Credential.connection_id)
                .where(Connection.name == connection, Credential.service == service, Credential.name == name)
            ).one_or_none()
            if row is None:
                return None
            keyring = self._keys(session, create=False)
        return self._open(keyring, row.ciphertext, connection, service, name), row.version

    def list(self, connection: str | None = None) -> list[CredentialInfo]:
        query = (
            select(Connection.name, Credential.service, Credential.name, Credential.set_at, Credential.version)
            .join(Connection, Connection.id == Credential.connection_id)
            .order_by(Connection.name, Credential.service, Credential.name)
        )
        if connection is not None:
            query = query.where(Connection.name == connection)
        with self.store.session() as session:
            return [CredentialInfo(*row) for row in session.execute(query).all()]

    # --- writing -----------------------------------------------------------------------------

    def set(self, connection: str, service: str, name: str, value: str | Secret) -> int:
        """Store (or replace) a secret; returns its new version."""
        plaintext = _plain(value)
        with self.store.session() as session:
            keyring = self._keys(session, create=True)
            conn_id = ensure_connection(session, connection, actor=self.actor)
            sealed = keyring.encrypt(_envelope(connection, service, name, plaintext))
            existing = session.scalars(
                select(Credential).where(
                    Credential.connection_id == conn_id, Credential.service == service, Credential.name == name
                )
            ).one_or_none()
            if existing is None:
                session.add(
                    Credential(
                        connection_id=conn_id,
                        service=service,
                        name=name,
                        ciphertext=sealed,
                        version=1,
                        set_at=utcnow(),
                    )
                )
                version = 1
            else:
                existing.ciphertext = sealed
                existing.version += 1
                existing.set_at = utcnow()
                version = existing.version
            self._audit(session, "credentials.set", conn_id, connection, service, name, version)
        return version

    def compare_and_set(
        self, connection: str, service: str, name: str, value: str | Secret, *, expected_version: int
    ) -> bool:
        """Replace a secret only if nobody replaced it since `expected_version` was read."""
        plaintext = _plain(value)
        with self.store.session() as session:
            keyring = self._keys(session, create=False)
            conn_id = connection_id(session, connection)
            if conn_id is None:
                return False
            result = session.execute(
                update(Credential)
                .where(
                    Credential.connection_id == conn_id,
                    Credential.service == service,
                    Credential.name == name,
                    Credential.version == expected_version,
                )
                .values(
                    ciphertext=keyring.encrypt(_envelope(connection, service, name, plaintext)),
                    version=expected_version + 1,
                    set_at=utcnow(),
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return False
            self._audit(session, "credentials.set", conn_id, connection, service, name, expected_version + 1)
        return True

    def delete(self, connection: str, service: str, name: str) -> bool:
        with self.store.session() as session:
            conn_id = connection_id(session, connection)
            if conn_id is None:
                return False
            result = session.execute(
                delete(Credential).where(
                    Credential.connection_id == conn_id, Credential.service == service, Credential.name == name
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return False
            self._audit(session, "credentials.deleted", conn_id, connection, service, name, None)
        return True

    def ensure_key(self) -> keyfiles.KeyRing:
        """The key ring, creating the key file if there is none and nothing is encrypted yet."""
        with self.store.session() as session:
            return self._keys(session, create=True)

    @contextlib.contextmanager
    def transaction(self, connection: str, service: str) -> Iterator[VaultTransaction]:
        """One service's secrets, read and written in one transaction while no other writer can change them.

        For secrets that must change together and only once at a time (DATEV's rotating refresh token):
        PostgreSQL locks the rows (FOR UPDATE), SQLite holds its write lock for the whole block.
        """
        with self.store.session() as session:
            keyring = self._keys(session, create=True)
            conn_id = ensure_connection(session, connection, actor=self.actor)
            rows = session.scalars(
                select(Credential)
                .where(Credential.connection_id == conn_id, Credential.service == service)
                .with_for_update()
            ).all()
            yield VaultTransaction(self, session, keyring, conn_id, connection, service, {r.name: r for r in rows})

    # --- key rotation ------------------------------------------------------------------------

    def rotate_key(self, *, drop_previous: bool = False) -> RotationReport:
        """Encrypt every credential with a new key; old ciphertexts stay readable until then.

        Key file: a new key is generated and written first (beside the old ones), every credential is
        re-encrypted in one transaction, then the file keeps the new key and, unless `drop_previous`,
        the one before it (so backups and slow processes can still be read). Environment: the first key in
        `DATEV_CIN7_SECRET_KEY` is the new one; put it before the old ones, rotate, then remove them.
        """
        keyring = keyfiles.load_keyring(create=False)
        if keyring.source == keyfiles.ENV:
            if len(keyring.keys) < 2:
                raise VaultError(
                    f"To rotate, set {keyring.describe()} to the new key followed by the old one, separated "
                    "by a comma, and run this again."
                )
            count = self._reencrypt_all(keyring)
            return RotationReport(reencrypted=count, key_source=keyfiles.ENV, kept_previous_key=True)
        assert keyring.path is not None

        rotated = [Fernet.generate_key(), *keyring.keys]
        keyfiles.write_key_file(keyring.path, rotated)
        count = self._reencrypt_all(keyfiles.read_key_file(keyring.path))
        kept = rotated[:1] if drop_previous else rotated[:2]
        keyfiles.write_key_file(keyring.path, kept)
        self._keyring = None
        return RotationReport(reencrypted=count, key_source=keyfiles.FILE, kept_previous_key=len(kept) > 1)

    def _reencrypt_all(self, keyring: keyfiles.KeyRing) -> int:
        with self.store.session() as session:
            rows = session.execute(
                select(Credential, Connection.name).join(Connection, Connection.id == Credential.connection_id)
            ).all()
            for credential, conn_name in rows:
                try:
                    credential.ciphertext = keyring.reencrypt(credential.ciphertext)
                except InvalidToken:
                    self._cannot_open(keyring, conn_name, credential.service, credential.name)
            record_event(
                session,
                action="credentials.key_rotated",
                subject_type="vault",
                subject_id="vault",
                actor=self.actor,
                detail={"credentials": len(rows), "key_source": keyring.source},
            )
        self._keyring = keyring
        return len(rows)

    # --- helpers -----------------------------------------------------------------------------

    def _keys(self, session: Session, *, create: bool) -> keyfiles.KeyRing:
        if self._keyring is not None and not self._keyring.is_stale():
            return self._keyring
        try:
            self._keyring = keyfiles.load_keyring(create=False)
        except keyfiles.MissingKeyError:
            if session.scalar(select(func.count()).select_from(Credential)):
                # A fresh key could not read what is stored, so never make one silently.
                raise VaultError(
                    f"The state database holds encrypted credentials but there is no key: restore "
                    f"{settings.key_file_path()} or set {settings.SECRET_KEY_ENV}."
                ) from None
            if not create:
                raise
            self._keyring = keyfiles.load_keyring(create=True)
        return self._keyring

    def _open(self, keyring: keyfiles.KeyRing, token: bytes, connection: str, service: str, name: str) -> Secret:
        try:
            envelope = json.loads(keyring.decrypt(token))
        except InvalidToken:
            # Another process may have rotated the key since we read it.
            fresh = keyfiles.load_keyring(create=False)
            try:
                envelope = json.loads(fresh.decrypt(token))
            except InvalidToken:
                self._cannot_open(fresh, connection, service, name)
            self._keyring = fresh
        if [envelope.get("c"), envelope.get("s"), envelope.get("n")] != [connection, service, name]:
            raise VaultError(
                f"The {service} credential {name!r} of connection {connection!r} was sealed for another "
                "place; the database has been tampered with. Set it again."
            )
        return Secret(envelope["v"])

    @staticmethod
    def _cannot_open(keyring: keyfiles.KeyRing, connection: str, service: str, name: str) -> NoReturn:
        raise VaultError(
            f"The {service} credential {name!r} of connection {connection!r} cannot be decrypted with "
            f"the key from {keyring.describe()}; it was encrypted with a different key."
        )

    def _audit(
        self,
        session: Session,
        action: str,
        conn_id: int,
        connection: str,
        service: str,
        name: str,
        version: int | None,
    ) -> None:
        record_event(
            session,
            action=action,
            subject_type="credential",
            subject_id=f"{connection}/{service}/{name}",
            actor=self.actor,
            connection_id=conn_id,
            detail={"service": service, "name": name, "version": version},
            refs=[connection],
        )


class VaultTransaction:
    """Secrets of one connection and service inside an open transaction (see `CredentialsVault.transaction`)."""

    def __init__(
        self,
        vault: CredentialsVault,
        session: Session,
        keyring: keyfiles.KeyRing,
        connection_id: int,
        connection: str,
        service: str,
        rows: dict[str, Credential],
    ) -> None:
        self._vault = vault
        self._session = session
        self._keyring = keyring
        self._connection_id = connection_id
        self._connection = connection
        self._service = service
        self._rows = rows

    def get(self, name: str) -> Secret | None:
        row = self._rows.get(name)
        if row is None:
            return None
        return self._vault._open(self._keyring, row.ciphertext, self._connection, self._service, name)

    def set(self, name: str, value: str | Secret) -> None:
        sealed = self._keyring.encrypt(_envelope(self._connection, self._service, name, _plain(value)))
        row = self._rows.get(name)
        if row is None:
            row = Credential(
                connection_id=self._connection_id,
                service=self._service,
                name=name,
                ciphertext=sealed,
                version=1,
                set_at=utcnow(),
            )
            self._session.add(row)
            self._rows[name] = row
        else:
            row.ciphertext = sealed
            row.version += 1
            row.set_at = utcnow()
        self._vault._audit(
            self._session, "credentials.set", self._connection_id, self._connection, self._service, name, row.version
        )

    def delete(self, name: str) -> None:
        row = self._rows.pop(name, None)
        if row is not None:
            self._session.delete(row)
            self._vault._audit(
                self._session, "credentials.deleted", self._connection_id, self._connection, self._service, name, None
            )

    @property
    def connection_id(self) -> int:
        return self._connection_id

    @property
    def session(self) -> Session:
        return self._session


def _plain(value: str | Secret) -> str:
    plaintext = value.reveal() if isinstance(value, Secret) else value
    if not isinstance(plaintext, str) or not plaintext.strip():
        raise VaultError("A credential cannot be empty.")
    return plaintext


def _envelope(connection: str, service: str, name: str, plaintext: str) -> bytes:
    return json.dumps({"c": connection, "s": service, "n": name, "v": plaintext}).encode()
