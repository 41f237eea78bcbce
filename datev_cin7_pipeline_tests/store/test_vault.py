"""The credentials vault: secrets are encrypted at rest, never shown, survive key rotation, and a wrong or
missing key is a clear error that reveals nothing."""

from __future__ import annotations

import os
import pickle
import stat
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.errors import VaultError
from datev_cin7_pipeline.store import CredentialsVault, Secret, StateStore

CIN7_KEY = "cin7-app-key-5f1d0c3e9b7a4e2f8d6c1b0a9e8f7d6c"
DATEV_SECRET = "datev-client-secret-Zq8vYw3xT1"


@pytest.fixture
def vault(store: StateStore) -> CredentialsVault:
    return CredentialsVault(store, actor="test")


def _raw_ciphertexts(store: StateStore) -> list[bytes]:
    with store.engine.connect() as connection:
        return [bytes(row) for row in connection.execute(sa.text("SELECT ciphertext FROM credentials")).scalars()]


def _database_dump(store: StateStore) -> str:
    """Every value of every row of every table, as text."""
    parts = []
    with store.engine.connect() as connection:
        for table in sa.inspect(store.engine).get_table_names():
            for row in connection.execute(sa.text(f"SELECT * FROM {table}")):
                parts.extend(repr(value) for value in row)
    return "\n".join(parts)


def test_a_secret_round_trips_and_is_stored_encrypted(vault: CredentialsVault, store: StateStore) -> None:
    assert vault.set("acme", "cin7", "application_key", CIN7_KEY) == 1
    assert vault.set("acme", "datev", "client_secret", DATEV_SECRET) == 1

    secret = vault.get("acme", "cin7", "application_key")
    assert isinstance(secret, Secret)
    assert secret.reveal() == CIN7_KEY
    assert vault.get("acme", "datev", "client_secret") == Secret(DATEV_SECRET)
    assert vault.get("acme", "datev", "refresh_token") is None
    assert vault.get("nobody", "cin7", "application_key") is None

    dump = _database_dump(store)
    assert CIN7_KEY not in dump
    assert DATEV_SECRET not in dump
    assert all(token.startswith(b"gAAAAA") for token in _raw_ciphertexts(store))  # Fernet tokens


def test_the_sqlite_file_and_home_folder_hold_no_plaintext(isolated_home: Path) -> None:
    store = StateStore(settings.database_url())
    vault = CredentialsVault(store)
    vault.set("acme", "cin7", "application_key", CIN7_KEY)
    vault.set("acme", "datev", "client_secret", DATEV_SECRET)
    store.dispose()
    files = [path for path in isolated_home.rglob("*") if path.is_file()]
    assert {path.name for path in files} >= {"state.db", "secret.key"}
    for path in files:
        content = path.read_bytes()
        assert CIN7_KEY.encode() not in content, path
        assert DATEV_SECRET.encode() not in content, path
    assert stat.S_IMODE((isolated_home / "state.db").stat().st_mode) == 0o600
    assert stat.S_IMODE(isolated_home.stat().st_mode) == 0o700


def test_a_secret_never_shows_itself() -> None:
    secret = Secret(CIN7_KEY)
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret}", repr([secret]), repr({"k": secret})):
        assert CIN7_KEY not in shown
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)
    exception = RuntimeError("failed with", secret)
    assert CIN7_KEY not in str(exception)
    assert CIN7_KEY not in repr(exception)


def test_list_shows_names_and_dates_but_no_values(vault: CredentialsVault) -> None:
    vault.set("acme", "cin7", "account_id", "7b1f6c44-4b1e-4d7e-a3c1-2b0c5d8e9f01")
    vault.set("acme", "cin7", "application_key", CIN7_KEY)
    vault.set("acme", "cin7", "application_key", CIN7_KEY + "-new")
    infos = vault.list()
    assert [(i.connection, i.service, i.name, i.version) for i in infos] == [
        ("acme", "cin7", "account_id", 1),
        ("acme", "cin7", "application_key", 2),
    ]
    assert all(i.set_at.tzinfo is not None for i in infos)
    assert CIN7_KEY not in repr(infos)
    assert vault.get("acme", "cin7", "application_key") == Secret(CIN7_KEY + "-new")


def test_empty_secrets_are_refused(vault: CredentialsVault) -> None:
    with pytest.raises(VaultError, match="cannot be empty"):
        vault.set("acme", "cin7", "application_key", "   ")


def test_compare_and_set_lets_only_one_of_two_racing_writers_win(vault: CredentialsVault) -> None:
    vault.set("acme", "datev", "refresh_token", "rt-0")
    found = vault.get_with_version("acme", "datev", "refresh_token")
    assert found is not None
    _, version = found
    outcomes: list[bool] = []
    start = threading.Barrier(4)

    def refresh(new_token: str) -> None:
        start.wait()
        outcomes.append(vault.compare_and_set("acme", "datev", "refresh_token", new_token, expected_version=version))

    threads = [threading.Thread(target=refresh, args=(f"rt-{n}",)) for n in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [False, False, False, True]
    token, new_version = vault.get_with_version("acme", "datev", "refresh_token") or (None, 0)
    assert new_version == version + 1
    assert token is not None
    assert token.reveal() in {"rt-1", "rt-2", "rt-3", "rt-4"}
    assert not vault.compare_and_set("acme", "datev", "refresh_token", "rt-late", expected_version=version)


def test_rotation_with_a_key_file_keeps_everything_readable(vault: CredentialsVault, store: StateStore) -> None:
    vault.set("acme", "cin7", "application_key", CIN7_KEY)
    vault.set("acme", "datev", "client_secret", DATEV_SECRET)
    key_file = settings.key_file_path()
    old_key = key_file.read_bytes().split()[0]
    before = _raw_ciphertexts(store)

    report = vault.rotate_key()

    assert report.reencrypted == 2
    assert report.kept_previous_key
    keys = key_file.read_bytes().split()
    assert len(keys) == 2
    assert keys[1] == old_key
    assert keys[0] != old_key
    after = _raw_ciphertexts(store)
    assert set(after).isdisjoint(before)
    for token in after:  # the new key alone opens every credential now
        Fernet(keys[0]).decrypt(token)
    fresh = CredentialsVault(store)  # another process, reading the key file anew
    assert fresh.get("acme", "cin7", "application_key") == Secret(CIN7_KEY)
    assert fresh.get("acme", "datev", "client_secret") == Secret(DATEV_SECRET)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    vault.rotate_key(drop_previous=True)
    assert len(key_file.read_bytes().split()) == 1
    assert CredentialsVault(store).get("acme", "cin7", "application_key") == Secret(CIN7_KEY)


def test_a_process_holding_the_old_key_still_reads_after_another_rotated(store: StateStore) -> None:
    slow = CredentialsVault(store)
    slow.set("acme", "cin7", "application_key", CIN7_KEY)
    assert slow.get("acme", "cin7", "application_key") == Secret(CIN7_KEY)
    CredentialsVault(store).rotate_key(drop_previous=True)
    assert slow.get("acme", "cin7", "application_key") == Secret(CIN7_KEY)


def test_rotation_with_keys_from_the_environment(
    vault: CredentialsVault, store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv(settings.SECRET_KEY_ENV, old)
    vault.set("acme", "cin7", "application_key", CIN7_KEY)
    with pytest.raises(VaultError, match="set DATEV_CIN7_SECRET_KEY to the new key followed by the old one"):
        vault.rotate_key()

    monkeypatch.setenv(settings.SECRET_KEY_ENV, f"{new}, {old}")
    assert vault.rotate_key().reencrypted == 1
    monkeypatch.setenv(settings.SECRET_KEY_ENV, new)
    assert CredentialsVault(store).get("acme", "cin7", "application_key") == Secret(CIN7_KEY)
    assert not settings.key_file_path().exists()


def test_a_wrong_key_is_a_clear_error_that_reveals_nothing(
    vault: CredentialsVault, store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault.set("acme", "cin7", "application_key", CIN7_KEY)
    wrong = Fernet.generate_key().decode()
    monkeypatch.setenv(settings.SECRET_KEY_ENV, wrong)
    with pytest.raises(VaultError) as caught:
        CredentialsVault(store).get("acme", "cin7", "application_key")
    message = str(caught.value)
    assert message == (
        "The cin7 credential 'application_key' of connection 'acme' cannot be decrypted with the key from "
        "DATEV_CIN7_SECRET_KEY; it was encrypted with a different key."
    )
    assert wrong not in message
    assert CIN7_KEY not in message


def test_a_malformed_key_is_refused_without_echoing_it(store: StateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(settings.SECRET_KEY_ENV, "not-a-real-key-but-secret-looking")
    with pytest.raises(VaultError, match="not a Fernet key") as caught:
        CredentialsVault(store).set("acme", "cin7", "application_key", CIN7_KEY)
    assert "not-a-real-key" not in str(caught.value)


def test_the_key_file_is_created_private_and_refused_when_others_can_read_it(vault: CredentialsVault) -> None:
    key_file = settings.key_file_path()
    assert not key_file.exists()
    vault.set("acme", "cin7", "application_key", CIN7_KEY)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    os.chmod(key_file, 0o644)
    with pytest.raises(VaultError, match=r"can be read by other users; run `chmod 600 .*secret.key`"):
        CredentialsVault(vault.store).get("acme", "cin7", "application_key")


def test_a_lost_key_is_never_silently_replaced(vault: CredentialsVault) -> None:
    vault.set("acme", "cin7", "application_key", CIN7_KEY)
    settings.key_file_path().unlink()
    with pytest.raises(VaultError, match="holds encrypted credentials but there is no key: restore"):
        CredentialsVault(vault.store).set("acme", "datev", "client_id", "abc")
    assert not settings.key_file_path().exists()


def test_a_ciphertext_moved_to_another_row_does_not_open_there(vault: CredentialsVault, store: StateStore) -> None:
    vault.set("acme", "cin7", "application_key", CIN7_KEY)
    vault.set("acme", "datev", "client_secret", DATEV_SECRET)
    with store.engine.begin() as connection:
        stolen = connection.execute(
            sa.text("SELECT ciphertext FROM credentials WHERE name = 'client_secret'")
        ).scalar_one()
        connection.execute(
            sa.text("UPDATE credentials SET ciphertext = :c WHERE name = 'application_key'"), {"c": stolen}
        )
    with pytest.raises(VaultError, match="sealed for another place"):
        vault.get("acme", "cin7", "application_key")
