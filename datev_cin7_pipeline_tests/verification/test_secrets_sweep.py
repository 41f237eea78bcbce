"""Secrets and access: one install's working life with known secret values, then a sweep of everything it
left behind (part 4 of the verification suite).

The life, each step through the door a person or the daemon uses (the CLI and Dagster runs as their own
processes, the simulators in this process):
- `credentials set` with a mistyped Cin7 key first (`ping` must refuse it without echoing it), then the
  right one; the DATEV client secret from standard input; `datev login` with PKCE through its loopback.
- `webhooks register` (a generated secret, Basic auth) and `webhooks serve`; forged deliveries are refused,
  Cin7's own delivery of a new invoice gets in.
- Three runs of the pipeline's job in a Dagster instance on disk (debug logging everywhere): a whole
  month; the webhook's month after DATEV expired every access token (a refresh mid-run); the same after
  DATEV revoked the refresh tokens (the run fails: "log in again"); then `datev login` again.
- `credentials rotate-key`, and a run after it (everything still readable); `replay`, `audit show`,
  `credentials list`.

The secrets: the Cin7 application key (and the mistyped one), the DATEV client secret, every access and
refresh token the DATEV simulator issued, the webhook secret, and every vault key there was. The sweep
looks for each as written, base64 (alone and inside a Basic header) and URL-encoded, in: every file under
the install (state database and its WAL, the Dagster instance's run and event storage, exports, the
simulator's capture), the output of every process, every Dagster event of every run (messages, metadata,
errors), and every row of every table of the state database. Only the key file may hold a vault key.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import requests
import sqlalchemy as sa
import yaml
from requests.auth import HTTPBasicAuth

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.sandbox.cin7 import Cin7SimConfig, build_cin7_app
from datev_cin7_pipeline.sandbox.cin7.config import Cin7Account
from datev_cin7_pipeline.sandbox.datev import DatevSimConfig, DatevSimState, build_datev_app
from datev_cin7_pipeline.sandbox.datev.config import OAuthClient
from datev_cin7_pipeline.sandbox.environment import SandboxOptions, write_sandbox_connection
from datev_cin7_pipeline.sandbox.serving import serve_in_thread
from datev_cin7_pipeline.store import CredentialsVault, StateStore
from datev_cin7_pipeline_tests.conftest import REPO_ROOT
from datev_cin7_pipeline_tests.mapping.support import TODAY, demo
from datev_cin7_pipeline_tests.verification.harness import die_with_parent, kill_group

pytestmark = pytest.mark.slow

MONTH = "2026-05-01"  # a month of the demo company's documents
CLIENT_ID = "secret-sweep-app"
WEBHOOK_USER = "cin7-sweep"
PROCESS_TIMEOUT = 300

# Debug logging in every process, and the product's loggers in Dagster's event log, so that anything a
# logger would ever say is there to be found.
RUN_PERIOD = """
import datetime as dt, json, logging, sys
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
from datev_cin7_pipeline.launch import run_job_for_period
outcome = run_job_for_period("vat_period_job", "default", dt.date.fromisoformat(sys.argv[1]), tags={})
print(json.dumps({"run_id": outcome.run_id, "success": outcome.success, "failed": list(outcome.failed_checks)}))
"""
DAGSTER_YAML = """
telemetry:
  enabled: false
python_logs:
  python_log_level: DEBUG
  managed_python_loggers: [datev_cin7_pipeline, urllib3, requests]
"""


# ##### FINDING A SECRET


def forms_of(value: str) -> dict[str, str]:
    """The ways a value can be written down by accident: as is, base64, URL-encoded."""
    encoded = base64.b64encode(value.encode()).decode()
    forms = {"as is": value, "base64": encoded.rstrip("="), "url-encoded": quote(value, safe="")}
    forms["url-encoded (+)"] = quote_plus(value)
    forms["url-encoded (path)"] = quote(value)
    return forms


@dataclass
class Secrets:
    values: dict[str, str] = field(default_factory=dict)  # what → value
    basic_pairs: list[tuple[str, str]] = field(default_factory=list)  # (user, secret) sent as Basic auth

    def add(self, what: str, value: str) -> None:
        self.values[what] = value

    def patterns(self) -> dict[bytes, str]:
        found: dict[bytes, str] = {}
        for what, value in self.values.items():
            for form, text in forms_of(value).items():
                found.setdefault(text.encode(), f"{what} ({form})")  # a form equal to another is named once
        for user, secret in self.basic_pairs:
            header = base64.b64encode(f"{user}:{secret}".encode()).decode().rstrip("=")
            found[header.encode()] = f"Basic credentials of {user!r}"
        return found

    def find(self, data: bytes) -> list[str]:
        return sorted({what for pattern, what in self.patterns().items() if pattern in data})


def test_the_sweep_finds_a_planted_secret_in_every_form(tmp_path: Path) -> None:
    """The control: the sweep must see a secret wherever it was put, or its silence proves nothing."""
    key = f"{uuid.uuid4()}/+ =ä"  # characters every encoding writes differently
    found = Secrets({"key": key}, [("user", key)])
    database = tmp_path / "planted.db"
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE t (v TEXT)"))
        connection.execute(sa.text("INSERT INTO t VALUES (:v)"), {"v": f"token={quote(key)}"})
    engine.dispose()
    header = base64.b64encode(f"user:{key}".encode()).decode()

    assert found.find(database.read_bytes()) == ["key (url-encoded (path))"]
    assert found.find(f"log: {key}".encode()) == ["key (as is)"]
    assert found.find(f"?token={quote_plus(key)}".encode()) == ["key (url-encoded (+))"]
    assert found.find(f"Authorization: Basic {header}".encode()) == ["Basic credentials of 'user'"]
    assert found.find(base64.b64encode(key.encode())) == ["key (base64)"]
    assert found.find(b"nothing here") == []


# ##### THE LIFE


@dataclass
class Life:
    folder: Path
    home: Path
    dagster_home: Path
    key_file: Path
    secrets: Secrets
    env: dict[str, str]
    outputs: dict[str, str] = field(default_factory=dict)  # step → what its process printed
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)  # step → run outcome
    refusals: dict[str, tuple[int, str]] = field(default_factory=dict)  # forged delivery → (status, body)
    facts: dict[str, Any] = field(default_factory=dict)
    swept: dict[str, tuple[int, int]] = field(default_factory=dict)  # sink → (items swept, secrets found)

    def _process(self, step: str, argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, *argv],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=REPO_ROOT,
            timeout=PROCESS_TIMEOUT,
            check=False,
        )
        self.outputs[step] = done.stdout + done.stderr
        return done

    def cli(self, step: str, *args: str, stdin: str | None = None, ok: bool = True) -> str:
        done = self._process(step, ["-m", "datev_cin7_pipeline.cli", *args], stdin)
        assert (done.returncode == 0) == ok, f"{step}: exit {done.returncode}\n{self.outputs[step]}"
        return self.outputs[step]

    def run_period(self, step: str, period: str) -> dict[str, Any]:
        done = self._process(step, ["-c", RUN_PERIOD, period])
        last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "{}"
        outcome = json.loads(last) if last.startswith("{") else {"success": False, "failed": ["no outcome"]}
        self.runs[step] = outcome
        return outcome

    def vault_keys(self) -> list[str]:
        return [line.strip() for line in self.key_file.read_text("utf-8").splitlines() if line.strip()]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _login(life: Life, step: str) -> None:
    """`datev login --no-browser`, with this test as the browser: open the address, follow the redirect."""
    process = subprocess.Popen(
        [sys.executable, "-m", "datev_cin7_pipeline.cli", "datev", "login", "--no-browser", "--timeout", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=life.env,
        cwd=REPO_ROOT,
    )
    assert process.stdout is not None
    printed = []
    for line in process.stdout:
        printed.append(line)
        if line.strip().startswith("http"):
            break
    address = printed[-1].strip()
    approved = requests.get(address, allow_redirects=False, timeout=10)
    assert approved.status_code in (302, 303), approved.text
    assert requests.get(approved.headers["Location"], timeout=10).status_code == 200
    rest, _ = process.communicate(timeout=60)
    life.outputs[step] = "".join(printed) + rest
    assert process.returncode == 0, life.outputs[step]
    assert "Signed in" in rest


def _wait_for_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on port {port} after {seconds} s")


def _wait_for(what: str, check: Any, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {seconds} s")


def _this_month() -> str:
    return dt.datetime.now(dt.UTC).date().replace(day=1).isoformat()  # the simulator dates new documents today


def _forge_deliveries(url: str, secret: str) -> dict[str, tuple[int, str]]:
    """Deliveries a stranger could try; every one must get the same bare 401."""
    body = json.dumps({"SaleTaskID": str(uuid.uuid4()), "SaleOrderNumber": "SO-1"})
    event = {"Content-Type": "application/json", "X-Cin7-Event": "Sale/InvoiceAuthorised"}
    basic = {
        "wrong password": (WEBHOOK_USER, "x" * len(secret)),
        "wrong user name": ("cin7", secret),
        "the secret with one character more": (WEBHOOK_USER, secret + "A"),
        "the secret cut short by one": (WEBHOOK_USER, secret[:-1]),
        "the secret in upper case": (WEBHOOK_USER, secret.upper()),
        "an empty password": (WEBHOOK_USER, ""),
    }
    headers = {
        "no credentials": {},
        "the secret as a bearer token": {"Authorization": f"Bearer {secret}"},
        "the secret in the custom header": {"X-Webhook-Token": secret},
        "Basic credentials that are not base64": {"Authorization": "Basic !!not-base64!!"},
        "Basic credentials without a colon": {
            "Authorization": "Basic " + base64.b64encode(f"{WEBHOOK_USER}{secret}".encode()).decode()
        },
    }
    answers = {}
    for case, auth in basic.items():
        answer = requests.post(url, data=body, headers=event, auth=HTTPBasicAuth(*auth), timeout=10)
        answers[case] = (answer.status_code, answer.text)
    for case, extra in headers.items():
        answer = requests.post(url, data=body, headers={**event, **extra}, timeout=10)
        answers[case] = (answer.status_code, answer.text)
    other = url.rsplit("/", 1)[0] + "/other"
    answer = requests.post(other, data=body, headers=event, auth=HTTPBasicAuth(WEBHOOK_USER, secret), timeout=10)
    answers["the right credentials for a connection that does not exist"] = (answer.status_code, answer.text)
    return answers


@pytest.fixture(scope="module")
def life(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Life]:
    folder = tmp_path_factory.mktemp("secrets-sweep")
    home, dagster_home, capture = folder / "home", folder / "dagster", folder / "capture"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(DAGSTER_YAML, "utf-8")
    account_id, cin7_key, mistyped_key = (str(uuid.uuid4()) for _ in range(3))
    client_secret = secrets.token_urlsafe(32)
    found = Secrets()
    found.add("the Cin7 application key", cin7_key)
    found.add("a mistyped Cin7 key", mistyped_key)
    found.add("the DATEV client secret", client_secret)
    found.basic_pairs.append((CLIENT_ID, client_secret))
    cin7_config = Cin7SimConfig(
        accounts=(Cin7Account(account_id, cin7_key),),
        today=TODAY,
        calls_per_minute=6000,
        webhook_first_delay=0.2,
        webhook_retry_delays=(1.0, 1.0, 2.0),
    )
    datev_config = DatevSimConfig(
        oauth_clients=(OAuthClient(CLIENT_ID, client_secret),), capture_folder=capture, extf_processing_seconds=0.3
    )
    datev_state = DatevSimState(datev_config)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "DATEV_CIN7_"))}
    env |= {settings.HOME_ENV: str(home), "DAGSTER_HOME": str(dagster_home), "PYTHONUNBUFFERED": "1"}
    with (
        serve_in_thread(build_cin7_app(cin7_config, demo())) as cin7,
        serve_in_thread(build_datev_app(datev_config, datev_state)) as datev,
    ):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(settings.HOME_ENV, str(home))
            write_sandbox_connection(cin7.url, datev.url, demo(), SandboxOptions(today=TODAY))
        # DATEV's login comes back to a free loopback port; Cin7 authenticates its deliveries with Basic.
        connections_file = home / settings.CONNECTIONS_FILE
        config = yaml.safe_load(connections_file.read_text("utf-8"))
        config["connections"]["default"]["datev"]["redirect_uri"] = f"http://localhost:{_free_port()}/callback"
        config["connections"]["default"]["webhooks"] = {"auth": "basic", "username": WEBHOOK_USER}
        connections_file.write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
        life = Life(folder, home, dagster_home, home / settings.KEY_FILE, found, env)

        set_cin7 = ("credentials", "set", "cin7", "--account-id", account_id, "--application-key", "-")
        life.cli("credentials set cin7 (mistyped)", *set_cin7, stdin=mistyped_key + "\n")
        life.facts["ping with the mistyped key"] = life.cli("ping (mistyped key)", "ping", "--only", "cin7", ok=False)
        life.cli("credentials set cin7", *set_cin7, stdin=cin7_key + "\n")
        set_datev = ("credentials", "set", "datev", "--client-id", CLIENT_ID, "--client-secret", "-")
        life.cli("credentials set datev", *set_datev, stdin=client_secret + "\n")
        _login(life, "datev login")
        life.cli("ping", "ping")

        port = _free_port()
        life.cli("webhooks register", "webhooks", "register", "--url", f"http://127.0.0.1:{port}/")
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(settings.HOME_ENV, str(home))
            store = StateStore.open()
            webhook_secret = CredentialsVault(store).get("default", "webhook", "secret")
            store.dispose()
        assert webhook_secret is not None
        found.add("the webhook secret", webhook_secret.reveal())
        found.basic_pairs.append((WEBHOOK_USER, webhook_secret.reveal()))
        receiver_log = folder / "receiver.log"
        with receiver_log.open("wb") as output:
            receiver = subprocess.Popen(
                [sys.executable, "-m", "datev_cin7_pipeline.cli", "webhooks", "serve", "--port", str(port)],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=REPO_ROOT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        try:
            _wait_for_port(port)
            life.refusals = _forge_deliveries(f"http://127.0.0.1:{port}/webhooks/cin7/default", webhook_secret.reveal())
            sale = requests.post(f"{cin7.url}/_sim/documents/sale/new/authorise", timeout=30).json()
            life.facts["webhook sale"] = str(sale["Details"]["SaleID"]).lower()
            life.facts["webhook deliveries accepted"] = _wait_for(
                "Cin7's delivery of the new invoice",
                lambda: [
                    a
                    for a in requests.get(f"{cin7.url}/_sim/deliveries", timeout=10).json()["Deliveries"]
                    if 200 <= int(a.get("Status") or 0) < 300
                ],
            )

            life.run_period("run: a whole month", MONTH)
            requests.post(f"{datev.url}/_sim/faults", json={"expire_access_tokens": True}, timeout=10)
            life.run_period("run: the webhook's month after every access token expired", _this_month())

            requests.post(f"{cin7.url}/_sim/documents/sale/new/authorise", timeout=30).raise_for_status()
            revoke = {"revoke_refresh_tokens": True, "expire_access_tokens": True}
            requests.post(f"{datev.url}/_sim/faults", json=revoke, timeout=10).raise_for_status()
            life.run_period("run: refresh tokens revoked", _this_month())
            life.facts["ping after the revocation"] = life.cli(
                "ping (refresh tokens revoked)", "ping", "--only", "datev", ok=False
            )
            _login(life, "datev login again")

            keys_before = life.vault_keys()
            life.cli("credentials rotate-key", "credentials", "rotate-key")
            keys_after = life.vault_keys()
            life.facts["vault keys"] = (keys_before, keys_after)
            life.run_period("run: after the key rotation", _this_month())
            life.cli("replay", "replay", "--period", _this_month()[:7])
            life.facts["audit"] = life.cli("audit show", "audit", "show", life.facts["webhook sale"])
            life.cli("credentials list", "credentials", "list")
        finally:
            kill_group(receiver)
        life.outputs["webhooks serve"] = receiver_log.read_text("utf-8", errors="replace")
        for number, (what, token) in enumerate(
            [("access token", t) for t in datev_state.tokens.access_tokens]
            + [("refresh token", t) for t in datev_state.tokens.refresh_tokens]
        ):
            found.add(f"DATEV {what} #{number}", token)
        life.facts["tokens issued"] = (len(datev_state.tokens.access_tokens), len(datev_state.tokens.refresh_tokens))
        for number, key in enumerate(dict.fromkeys(keys_before + keys_after)):
            found.add(f"vault key #{number}", key)
        yield life
    _report(request, life)


def _report(request: pytest.FixtureRequest, life: Life) -> None:
    lines = [
        f"secrets sweep: {len(life.secrets.values)} secret values, {len(life.secrets.patterns())} forms searched; "
        f"{len(life.refusals)} forged deliveries refused",
        *(f"  {sink}: {items} swept, {found} found" for sink, (items, found) in life.swept.items()),
    ]
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            for line in lines:
                reporter.write_line(line)


# ##### THE LIFE WENT AS PLANNED (or the sweep would prove little)


def test_the_life_went_as_planned(life: Life) -> None:
    runs = {step: (run["success"], run["failed"]) for step, run in life.runs.items()}
    assert runs == {
        "run: a whole month": (True, []),
        "run: the webhook's month after every access token expired": (True, []),
        "run: refresh tokens revoked": (False, runs["run: refresh tokens revoked"][1]),
        "run: after the key rotation": (True, []),
    }
    assert "rejected the API keys of connection 'default'" in life.facts["ping with the mistyped key"]
    assert "must log in to DATEV" in life.facts["ping after the revocation"]
    assert "datev-cin7 datev login --connection default" in life.facts["ping after the revocation"]
    access, refresh = life.facts["tokens issued"]
    assert access >= 3  # two logins and at least one refresh after the expiry
    assert refresh >= 3
    keys_before, keys_after = life.facts["vault keys"]
    assert keys_after[0] not in keys_before  # a new key encrypts now
    assert life.facts["webhook deliveries accepted"]
    assert "webhook" in life.facts["audit"].lower()  # the document's trail starts at Cin7's delivery


def test_every_forged_delivery_gets_the_same_bare_refusal(life: Life) -> None:
    statuses = {case: status for case, (status, _) in life.refusals.items()}
    bodies = {body for _, body in life.refusals.values()}

    assert statuses == dict.fromkeys(life.refusals, 401)
    assert len(life.refusals) == 12
    assert bodies == {'{"error":"unauthorized"}'}  # nothing tells a stranger which part was wrong


# ##### THE SWEEP


def test_no_file_the_install_wrote_holds_a_secret(life: Life) -> None:
    files = [path for path in life.folder.rglob("*") if path.is_file()]
    found = {str(path.relative_to(life.folder)): life.secrets.find(path.read_bytes()) for path in files}

    key_file = str(life.key_file.relative_to(life.folder))
    leaks = {path: what for path, what in found.items() if what and path != key_file}
    life.swept["files (bytes, the key file aside)"] = (len(files) - 1, len(leaks))

    assert leaks == {}
    # The one place a vault key belongs, and only vault keys are there (this also proves the sweep sees it).
    assert found[key_file]
    assert all(what.startswith("vault key #") for what in found[key_file])
    # What was swept: the state database, the Dagster instance's storage, exports, captures, logs.
    names = {path.name for path in files}
    assert {"state.db", "connections.yaml", "receiver.log"} <= names, sorted(names)
    assert any(path.suffix == ".csv" for path in files)  # the EXTF files of the exports and DATEV's capture
    assert any("dagster" in path.parts for path in files if path.suffix == ".db")


def test_no_process_printed_a_secret(life: Life) -> None:
    leaks = {step: life.secrets.find(output.encode()) for step, output in life.outputs.items()}
    life.swept["process outputs"] = (len(leaks), sum(1 for what in leaks.values() if what))

    assert {step: what for step, what in leaks.items() if what} == {}
    # Debug logging was on: the runs said a lot, so their silence about secrets means something.
    assert sum(len(life.outputs[step]) for step in life.runs) > 50_000
    assert "Open this address to sign in with DATEV" in life.outputs["datev login"]


def test_no_dagster_event_message_metadata_or_error_holds_a_secret(life: Life) -> None:
    import dagster as dg
    from dagster._serdes import serialize_value

    with dg.DagsterInstance.from_config(str(life.dagster_home)) as instance:
        runs = instance.get_runs()
        records = [(run.run_id, entry) for run in runs for entry in instance.all_logs(run.run_id)]
        texts = [serialize_value(run) for run in runs] + [serialize_value(entry) for _, entry in records]
    leaks = sorted({what for text in texts for what in life.secrets.find(text.encode())})
    life.swept["Dagster runs and events"] = (len(texts), len(leaks))

    assert leaks == []
    assert len(runs) == len(life.runs) + 1  # the four runs and `replay`
    # The failed run's error is among what was swept, and it tells the person what to do.
    failures = [
        entry.dagster_event.step_failure_data.error
        for _, entry in records
        if entry.dagster_event is not None and entry.dagster_event.is_step_failure
    ]
    assert failures
    chains = [" <- ".join(_messages(error)) for error in failures]
    assert any("run `datev-cin7 datev login --connection default`" in chain for chain in chains), chains
    # The product's own loggers wrote into the event log too (managed_python_loggers in dagster.yaml).
    assert sum(1 for _, entry in records if entry.dagster_event is None) > 10


def _messages(error: Any) -> list[str]:
    found = []
    while error is not None:
        found.append(error.message.strip())
        error = error.cause or error.context
    return found


def test_no_row_of_the_state_database_holds_a_secret(life: Life) -> None:
    engine = sa.create_engine(f"sqlite:///{life.home / settings.DATABASE_FILE}")
    tables = sa.MetaData()
    tables.reflect(engine)
    rows: dict[str, list[Any]] = {}
    with engine.connect() as connection:
        for table in tables.sorted_tables:
            rows[table.name] = [tuple(row) for row in connection.execute(sa.select(table))]
    engine.dispose()
    leaks = {name: life.secrets.find(repr(found).encode()) for name, found in rows.items()}
    life.swept["state database rows"] = (sum(map(len, rows.values())), sum(1 for what in leaks.values() if what))

    assert {name: what for name, what in leaks.items() if what} == {}
    assert len(rows["credentials"]) >= 8  # Cin7 pair, DATEV client pair, tokens, webhook secret: all sealed
    assert len(rows["audit_events"]) > 100


# ##### EVERY WAY OF AUTHENTICATING A DELIVERY, EVERY WAY OF GETTING IT WRONG


def _credentials_for(mode: str, secret: str, user: str = WEBHOOK_USER) -> dict[str, str]:
    if mode == "header":
        return {"X-Webhook-Token": secret}
    if mode == "bearer":
        return {"Authorization": f"Bearer {secret}"}
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}


@pytest.mark.parametrize("mode", ["bearer", "basic", "header"])
def test_each_auth_mode_takes_only_its_own_exact_credentials(mode: str, tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from datev_cin7_pipeline.store import Secret
    from datev_cin7_pipeline.store.connections import ensure_connection
    from datev_cin7_pipeline.store.models import InboxEvent
    from datev_cin7_pipeline.webhooks.app import ReceiverConnection, WebhookAuth, build_webhook_app

    secret = secrets.token_urlsafe(32)
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    with store.session() as session:
        connection_id = ensure_connection(session, "acme", actor="test")
    auth = WebhookAuth(mode=mode, secret=Secret(secret), username=WEBHOOK_USER)
    forged = {
        f"the right secret the {other} way": _credentials_for(other, secret)
        for other in ("bearer", "basic", "header")
        if other != mode
    }
    forged |= {
        "a wrong secret": _credentials_for(mode, secrets.token_urlsafe(32)),
        # (not a trailing space: HTTP drops whitespace around a field value, so that is the same secret)
        "the secret with one character more": _credentials_for(mode, secret + "x"),
        "the secret cut short": _credentials_for(mode, secret[:-1]),
        "the secret twice": _credentials_for(mode, secret * 2),
        "an empty secret": _credentials_for(mode, ""),
        "nothing at all": {},
    }
    if mode == "basic":
        forged["the right secret with another user"] = _credentials_for(mode, secret, user="admin")
    body = json.dumps({"SaleTaskID": str(uuid.uuid4()), "SaleOrderNumber": "SO-1"})
    event = {"Content-Type": "application/json", "X-Cin7-Event": "Sale/InvoiceAuthorised"}
    app = build_webhook_app(store, {"acme": ReceiverConnection("acme", connection_id, auth)})
    try:
        with TestClient(app) as client:
            refused = {
                case: client.post("/webhooks/cin7/acme", content=body, headers={**event, **headers}).status_code
                for case, headers in forged.items()
            }
            with store.session() as session:
                stored_after_forgeries = session.query(InboxEvent).count()
            accepted = client.post(
                "/webhooks/cin7/acme", content=body, headers={**event, **_credentials_for(mode, secret)}
            )
            with store.session() as session:
                stored = session.query(InboxEvent).count()
    finally:
        store.dispose()

    assert refused == dict.fromkeys(forged, 401)
    assert stored_after_forgeries == 0
    assert accepted.status_code == 202, accepted.text
    assert stored == 1
