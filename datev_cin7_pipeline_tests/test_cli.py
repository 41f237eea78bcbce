"""The `datev-cin7` command as a user runs it (the installed console script, in a subprocess): every
command has help, the set-up flow works on SQLite and PostgreSQL, secrets never appear in any output or
file, and every user mistake ends in one sentence and a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.cli import main

SCRIPT = Path(sys.executable).with_name("datev-cin7")
ACCOUNT_ID = "7b1f6c44-4b1e-4d7e-a3c1-2b0c5d8e9f01"
CIN7_KEY = "cin7-app-key-Hq2W9eLz0Pf4Rt7Yu1Io3"
DATEV_CLIENT_ID = "d7c0a8e2-client-id"
DATEV_SECRET = "datev-secret-Mn5Bv8Cx2Zl6Kj9"
SECRETS = (CIN7_KEY, DATEV_SECRET)


@dataclass
class Result:
    code: int
    out: str
    err: str


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Result:
    completed = subprocess.run(
        [str(SCRIPT), *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


def test_help_lists_the_commands_and_every_command_has_help() -> None:
    top = run("--help")
    assert top.code == 0
    for command in ("init", "credentials", "audit"):
        assert f"  {command} " in top.out
    credentials = run("credentials", "--help")
    for command in ("set", "list", "rotate-key"):
        assert f"  {command} " in credentials.out
    every = _commands(main)
    assert ("credentials", "set", "cin7") in every
    assert ("audit", "show") in every
    for path in every:
        result = run(*path, "--help")
        assert result.code == 0, (path, result.err)
        assert result.out.startswith("Usage: datev-cin7"), path


@pytest.fixture
def cli_env(database_url: str) -> dict[str, str]:
    """Run the CLI against the parametrized backend (SQLite in the home folder, or a PostgreSQL schema)."""
    if database_url.startswith("sqlite"):
        return {}
    return {settings.DATABASE_URL_ENV: database_url}


def test_the_set_up_flow_stores_secrets_that_never_show(
    cli_env: dict[str, str], isolated_home: Path, database_url: str
) -> None:
    init = run("init", env=cli_env)
    assert init.code == 0, init.err
    assert f"Wrote {isolated_home / 'connections.yaml'}" in init.out
    assert "schema up to date" in init.out

    outputs = [init]
    outputs.append(
        run("credentials", "set", "cin7", "--account-id", ACCOUNT_ID, "--application-key", CIN7_KEY, env=cli_env)
    )
    outputs.append(
        run(
            "credentials",
            "set",
            "datev",
            "--client-id",
            DATEV_CLIENT_ID,
            "--client-secret",
            "-",
            stdin=DATEV_SECRET + "\n",
            env=cli_env,
        )
    )
    assert [r.code for r in outputs] == [0, 0, 0], [r.err for r in outputs]
    assert (
        outputs[1].out.strip() == "Stored the Cin7 Account ID and application key for connection 'default', encrypted."
    )

    listing = run("credentials", "list", env=cli_env)
    outputs.append(listing)
    lines = listing.out.strip().splitlines()
    assert lines[0].split() == ["CONNECTION", "SERVICE", "NAME", "SET", "AT", "(UTC)", "VERSION"]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["default", "cin7", "account_id"],
        ["default", "cin7", "application_key"],
        ["default", "datev", "client_id"],
        ["default", "datev", "client_secret"],
    ]

    rotate = run("credentials", "rotate-key", env=cli_env)
    outputs.append(rotate)
    assert rotate.code == 0
    assert "Re-encrypted 4 credential(s)" in rotate.out

    history = run("audit", "show", "default", env=cli_env)
    outputs.append(history)
    actions = [line.split()[2] for line in history.out.strip().splitlines()]
    assert actions == ["connection.created"] + ["credentials.set"] * 4
    as_json = run("audit", "show", "default/cin7/application_key", "--json", env=cli_env)
    outputs.append(as_json)
    events = [json.loads(line) for line in as_json.out.splitlines()]
    assert [(e["action"], e["detail"]["version"]) for e in events] == [("credentials.set", 1)]

    # The secrets are readable with the rotated key…
    from datev_cin7_pipeline.store import CredentialsVault, Secret, StateStore

    store = StateStore(database_url if cli_env else settings.database_url())
    vault = CredentialsVault(store)
    assert vault.get("default", "cin7", "application_key") == Secret(CIN7_KEY)
    assert vault.get("default", "datev", "client_secret") == Secret(DATEV_SECRET)
    # …and appear nowhere: not in any output, any file of the home folder, or any database row.
    for result in outputs:
        for secret in SECRETS:
            assert secret not in result.out
            assert secret not in result.err
    for path in isolated_home.rglob("*"):
        if path.is_file():
            for secret in SECRETS:
                assert secret.encode() not in path.read_bytes(), path
    with store.engine.connect() as connection:
        for table in sa.inspect(store.engine).get_table_names():
            rows = repr(connection.execute(sa.text(f"SELECT * FROM {table}")).all())
            for secret in SECRETS:
                assert secret not in rows, table
    store.dispose()


def test_init_twice_keeps_the_connections_file() -> None:
    assert run("init").code == 0
    path = settings.connections_file_path()
    path.write_text(path.read_text().replace("consultant_number: null", "consultant_number: 29098"))
    again = run("init")
    assert again.code == 0
    assert "Kept the existing connections file" in again.out
    assert "consultant_number: 29098" in path.read_text()


def _write_config(text: str) -> None:
    settings.ensure_home_dir()
    settings.connections_file_path().write_text(text)


# One row per mistake: (set-up, arguments, standard input, the sentence expected, exit code).
MISTAKES = [
    ("none", ["credentials", "list"], None, r"There is no connections file at .*; run `datev-cin7 init` first\.$", 1),
    (
        "none",
        ["credentials", "set", "cin7", "--account-id", ACCOUNT_ID, "--application-key", "k"],
        None,
        r"There is no connections file at .*connections.yaml; run `datev-cin7 init` first\.$",
        1,
    ),
    (
        "init",
        ["credentials", "set", "cin7", "--account-id", ACCOUNT_ID, "--application-key", "k", "--connection", "other"],
        None,
        r"There is no connection 'other' in .* \(known: default\)\.$",
        1,
    ),
    (
        "init",
        ["credentials", "set", "cin7", "--account-id", "12345", "--application-key", "k"],
        None,
        r"Invalid value for --account-id: a Cin7 Account ID is a GUID\.$",
        2,
    ),
    (
        "init",
        ["credentials", "set", "cin7", "--account-id", ACCOUNT_ID],
        "",
        r"No Cin7 application key on standard input\.$",
        1,
    ),
    (
        "init",
        ["credentials", "set", "datev", "--client-id", "x"],
        None,
        r"uses a confidential DATEV client, so --client-secret is required .*\.$",
        1,
    ),
    ("init", ["audit", "show", "SALE-404"], None, r"The audit trail has no events for 'SALE-404'\.$", 1),
    (
        "typo",
        ["credentials", "list"],
        None,
        r"connections.yaml: connections.default.datev.consultant_numbr: unknown setting \(check the spelling\)\.$",
        1,
    ),
    (
        "badyaml",
        ["credentials", "set", "cin7", "--account-id", ACCOUNT_ID, "--application-key", "k"],
        None,
        r"connections.yaml is not valid YAML at line 3\.$",
        1,
    ),
    (
        "badvalue",
        ["credentials", "set", "cin7", "--account-id", ACCOUNT_ID, "--application-key", "k"],
        None,
        r"connections.default.datev.client_number: Input should be less than or equal to 99999\.$",
        1,
    ),
    (
        "wrongkey",
        ["credentials", "rotate-key"],
        None,
        r"The cin7 credential 'account_id' of connection 'default' cannot be decrypted with the key from "
        r"DATEV_CIN7_SECRET_KEY; it was encrypted with a different key\.$",
        1,
    ),
    ("badurl", ["audit", "show", "x"], None, r"not a valid SQLAlchemy URL\.$", 1),
    (
        "nopg",
        ["audit", "show", "x"],
        None,
        r"The state database postgresql\+psycopg2://u:\*\*\*@127.0.0.1:1/db could not be used: .*\.$",
        1,
    ),
    (
        "lostkey",
        ["init"],
        None,
        r"holds encrypted credentials but there is no key: restore .*secret.key or set "
        r"DATEV_CIN7_SECRET_KEY\.$",
        1,
    ),
    ("none", ["init", "--connection", "Bad Name"], None, r"use lower-case letters, digits, '-' and '_'\.$", 2),
    (
        "init",
        ["init", "--connection", "second"],
        None,
        r"connections.yaml already exists and has no connection 'second'; add it there .*\.$",
        1,
    ),
]


@pytest.mark.parametrize(
    ("setup", "args", "stdin", "expected", "code"), MISTAKES, ids=[m[1][-1] + "-" + m[0] for m in MISTAKES]
)
def test_user_mistakes_end_in_one_sentence(
    setup: str, args: list[str], stdin: str | None, expected: str, code: int
) -> None:
    env: dict[str, str] = {}
    if setup in ("init", "wrongkey", "lostkey"):
        assert run("init").code == 0
    if setup == "wrongkey":  # stored with the key file's key, then read with another one
        assert run("credentials", "set", "cin7", "--account-id", ACCOUNT_ID, "--application-key", CIN7_KEY).code == 0
        env = {settings.SECRET_KEY_ENV: f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"}
    if setup == "lostkey":  # init must not quietly make a new key that cannot read what is stored
        assert run("credentials", "set", "cin7", "--account-id", ACCOUNT_ID, "--application-key", CIN7_KEY).code == 0
        settings.key_file_path().unlink()
    if setup == "typo":
        _write_config("version: 1\nconnections:\n  default:\n    datev:\n      consultant_numbr: 29098\n")
    if setup == "badyaml":
        _write_config("version: 1\nconnections:\n  default: a: b\n")
    if setup == "badvalue":
        _write_config("version: 1\nconnections:\n  default:\n    datev:\n      client_number: 123456\n")
    if setup == "badurl":
        env = {settings.DATABASE_URL_ENV: "::not a url::"}
    if setup == "nopg":
        env = {settings.DATABASE_URL_ENV: "postgresql://u:pw-do-not-print@127.0.0.1:1/db"}

    result = run(*args, stdin=stdin, env=env)

    assert result.code == code, result
    assert "Traceback" not in result.err
    assert "Traceback" not in result.out
    error_line = result.err.strip().splitlines()[-1]
    assert error_line.startswith("Error: ")
    assert re.search(expected, error_line), error_line
    assert "pw-do-not-print" not in result.err
    if code == 1:  # our own errors: exactly one line, nothing else
        assert result.err.strip() == error_line
