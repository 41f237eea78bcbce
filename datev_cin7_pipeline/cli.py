"""`datev-cin7`: set up and check connections, run the demo and the sandbox, replay, read the audit trail.

Mistakes a user can make end in one sentence on stderr and exit code 1, never a traceback. Secret values
are never printed: not when they are set, not when they are listed, not in errors.
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from datev_cin7_pipeline import __version__, settings
from datev_cin7_pipeline.config import (
    CONNECTION_NAME_PATTERN,
    connections_template,
    load_connections,
    require_connection,
)
from datev_cin7_pipeline.errors import ConnectorError
from datev_cin7_pipeline.store import CredentialsVault, StateStore
from datev_cin7_pipeline.store.audit import history
from datev_cin7_pipeline.store.connections import ensure_connection

ACTOR = "cli"


class FriendlyGroup(click.Group):
    """Turns a `ConnectorError` anywhere below into click's one-line "Error: …" and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConnectorError as exc:
            raise click.ClickException(str(exc)) from None


def _set_home(_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        if Path(value).expanduser().exists() and not Path(value).expanduser().is_dir():
            raise click.ClickException(f"{value} is not a folder.")
        os.environ[settings.HOME_ENV] = value


@click.group(cls=FriendlyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="datev-cin7")
@click.option(
    "--home",
    metavar="DIR",
    expose_value=False,
    callback=_set_home,
    is_eager=True,
    help=f"Home folder (default: ${settings.HOME_ENV}, else ~/.local/share/datev-cin7).",
)
def main() -> None:
    """Move authorised Cin7 Core invoices, credit notes and payments into DATEV, exactly once."""


# --- init --------------------------------------------------------------------------------------


@main.command()
@click.option("--connection", "name", default="default", show_default=True, help="Name of the first connection.")
def init(name: str) -> None:
    """Create the home folder, the state database, the vault key and a connections file to edit."""
    if not re.match(CONNECTION_NAME_PATTERN, name):
        raise click.BadParameter("use lower-case letters, digits, '-' and '_'.", param_hint="--connection")
    home = settings.ensure_home_dir()
    config_path = settings.connections_file_path()
    if config_path.exists():
        if name != "default" and name not in load_connections(config_path).connections:
            raise ConnectorError(
                f"{config_path} already exists and has no connection {name!r}; add it there (copy the block "
                "of an existing connection) and run init again."
            )
        click.echo(f"Kept the existing connections file {config_path}.")
    else:
        config_path.write_text(connections_template(name), encoding="utf-8")
        click.echo(f"Wrote {config_path}: fill in the DATEV consultant and client numbers.")
    connections = load_connections(config_path).connections
    store = StateStore.open()
    with store.session() as session:
        for connection in connections:
            ensure_connection(session, connection, actor=ACTOR)
    keyring = CredentialsVault(store, actor=ACTOR).ensure_key()
    click.echo(f"State database: {store.describe()} (schema up to date).")
    click.echo(f"Encryption key: {keyring.describe()}.")
    click.echo(f"Home folder: {home}")
    click.echo("Next: `datev-cin7 credentials set cin7 ...` and `datev-cin7 credentials set datev ...`.")


# --- credentials -------------------------------------------------------------------------------


@main.group()
def credentials() -> None:
    """Store, list and re-encrypt secrets (values are never shown)."""


@credentials.group("set")
def credentials_set() -> None:
    """Store the credentials of one service for a connection."""


_connection_option = click.option(
    "--connection", default="default", show_default=True, help="The connection (from connections.yaml)."
)


@credentials_set.command("cin7")
@click.option("--account-id", required=True, help="The Cin7 Core API Account ID (a GUID).")
@click.option(
    "--application-key",
    default=None,
    help="The API application key; '-' reads it from standard input; left out, it is asked for (hidden).",
)
@_connection_option
def credentials_set_cin7(account_id: str, application_key: str | None, connection: str) -> None:
    """Store the Cin7 Core Account ID and API application key."""
    require_connection(connection)
    application_key = _secret_value(application_key, "Cin7 application key")
    try:
        account_id = str(uuid.UUID(account_id.strip()))
    except ValueError:
        raise click.BadParameter("a Cin7 Account ID is a GUID.", param_hint="--account-id") from None
    vault = _vault()
    vault.set(connection, "cin7", "account_id", account_id)
    vault.set(connection, "cin7", "application_key", application_key.strip())
    click.echo(f"Stored the Cin7 Account ID and application key for connection {connection!r}, encrypted.")


@credentials_set.command("datev")
@click.option("--client-id", required=True, help="The client id of your DATEV developer-portal app.")
@click.option(
    "--client-secret", default=None, help="Its client secret (confidential clients only); '-' reads standard input."
)
@_connection_option
def credentials_set_datev(client_id: str, client_secret: str | None, connection: str) -> None:
    """Store the DATEV app's client id and, for confidential clients, its secret."""
    settings_ = require_connection(connection)
    if client_secret == "-":  # noqa: S105 - the stdin marker, not a password
        client_secret = _secret_value(client_secret, "DATEV client secret")
    if settings_.datev.client_type == "confidential" and not client_secret:
        raise ConnectorError(
            f"Connection {connection!r} uses a confidential DATEV client, so --client-secret is required "
            "(or set datev.client_type: public in connections.yaml)."
        )
    vault = _vault()
    vault.set(connection, "datev", "client_id", client_id.strip())
    if client_secret:
        vault.set(connection, "datev", "client_secret", client_secret.strip())
        click.echo(f"Stored the DATEV client id and client secret for connection {connection!r}, encrypted.")
    else:
        vault.delete(connection, "datev", "client_secret")
        click.echo(f"Stored the DATEV client id for connection {connection!r} (public client, no secret).")


@credentials.command("list")
@click.option("--connection", default=None, help="Only this connection.")
def credentials_list(connection: str | None) -> None:
    """Show which credentials are stored and when they were set (never their values)."""
    infos = _vault().list(connection)
    if not infos:
        click.echo("No credentials are stored yet.")
        return
    rows = [("CONNECTION", "SERVICE", "NAME", "SET AT (UTC)", "VERSION")]
    rows += [(i.connection, i.service, i.name, i.set_at.strftime("%Y-%m-%d %H:%M:%S"), str(i.version)) for i in infos]
    _print_table(rows)


@credentials.command("rotate-key")
@click.option(
    "--drop-previous",
    is_flag=True,
    help="Also remove the previous key from the key file (by default it is kept to read old backups).",
)
def credentials_rotate_key(drop_previous: bool) -> None:
    """Encrypt every stored credential with a new key.

    With a key file, a new key is generated and everything is re-encrypted. With DATEV_CIN7_SECRET_KEY,
    put the new key first (comma-separated, old keys after it), run this, then remove the old keys.
    """
    report = _vault().rotate_key(drop_previous=drop_previous)
    click.echo(f"Re-encrypted {report.reencrypted} credential(s) with the new key.")
    if report.key_source == "env":
        click.echo(f"You can now remove the old keys from {settings.SECRET_KEY_ENV}.")
    elif report.kept_previous_key:
        click.echo("The previous key stays in the key file to read older backups; --drop-previous removes it.")


# --- audit -------------------------------------------------------------------------------------


@main.group()
def audit() -> None:
    """Read the append-only audit trail."""


@audit.command("show")
@click.argument("record_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def audit_show(record_id: str, as_json: bool) -> None:
    """The full history of one record, oldest first.

    ID is anything the trail knows a record by: a Cin7 document id, a DATEV document GUID, a job or
    reference id, a connection name.
    """
    store = StateStore.open()
    with store.session() as session:
        entries = history(session, record_id)
    if not entries:
        raise ConnectorError(f"The audit trail has no events for {record_id!r}.")
    for entry in entries:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "id": entry.id,
                        "at": entry.occurred_at.isoformat(),
                        "connection": entry.connection,
                        "action": entry.action,
                        "subject_type": entry.subject_type,
                        "subject_id": entry.subject_id,
                        "actor": entry.actor,
                        "detail": entry.detail,
                    },
                    ensure_ascii=False,
                    default=str,
                )
            )
            continue
        detail = " ".join(f"{key}={value}" for key, value in entry.detail.items())
        click.echo(
            f"{entry.occurred_at:%Y-%m-%d %H:%M:%S}Z  {entry.action:<24} {entry.subject_id}"
            f"  [{entry.connection or '-'}; by {entry.actor}]  {detail}".rstrip()
        )


# --- ping --------------------------------------------------------------------------------------


@main.command()
@_connection_option
@click.option("--only", type=click.Choice(["cin7", "datev"]), default=None, help="Check only one side.")
def ping(connection: str, only: str | None) -> None:
    """Check both sides: Cin7 (company, currency, rate-limit headroom) and DATEV (login, client, services)."""
    settings_ = require_connection(connection)
    vault = _vault()
    failures = []
    for side, check in (("cin7", _ping_cin7), ("datev", _ping_datev)):
        if only and side != only:
            continue
        try:
            check(connection, settings_, vault)
        except ConnectorError as exc:
            failures.append(str(exc))
    if failures:
        raise ConnectorError(" ".join(failures))


def _ping_cin7(connection: str, settings_: Any, vault: CredentialsVault) -> None:
    from datev_cin7_pipeline.cin7.connect import cin7_client_for
    from datev_cin7_pipeline.cin7.models import Company

    with cin7_client_for(connection, settings_, vault) as client:
        company = Company.model_validate(client.get("me") or {})
        click.echo(f"Cin7 Core: {company.company or '(no name)'}")
        click.echo(
            f"  base currency {company.currency or '?'}, time zone {company.time_zone or '?'}, "
            f"tax rounding per {'line' if company.rounds_tax_per_line else 'document'}"
        )
        if company.lock_date:
            click.echo(f"  locked up to {company.lock_date.isoformat()}")
        headroom = client.pacer.headroom()
        server = client.stats.server_remaining
        click.echo(
            f"  rate limit: {headroom} of {client.pacer.calls} calls/min left for this connection"
            + (f", Cin7 reports {server} remaining" if server is not None else "")
        )


def _ping_datev(connection: str, settings_: Any, vault: CredentialsVault) -> None:
    from datev_cin7_pipeline.datev.connect import SERVICE_FOR_ROUTE, datev_api_for, require_client_id
    from datev_cin7_pipeline.datev.oauth import token_summary

    client_id = require_client_id(connection, settings_)
    api = datev_api_for(connection, settings_, vault)
    summary = token_summary(api.tokens)
    if summary["state"] != "logged_in":
        reason = f" ({summary['reason']})" if summary["reason"] else ""
        raise ConnectorError(
            f"Connection {connection!r} must log in to DATEV{reason}; run `datev-cin7 datev login --connection "
            f"{connection}`."
        )
    client = api.check_access(client_id, SERVICE_FOR_ROUTE[settings_.datev.route])
    click.echo(f"DATEV: {client.get('name') or client_id} ({client_id}), logged in")
    click.echo(f"  services: {', '.join(sorted(str(s.get('name')) for s in client.get('services') or []))}")
    types = [str(t.get("name")) for t in api.document_types(client_id)]
    click.echo(f"  document types: {', '.join(types) or 'none'}")
    click.echo(
        f"  access token valid until {api.tokens.state() and token_summary(api.tokens)['access_token_expires_at']}"
    )


# --- datev -------------------------------------------------------------------------------------


@main.group()
def datev() -> None:
    """Sign in to DATEV for a connection."""


@datev.command("login")
@_connection_option
@click.option("--timeout", default=300, show_default=True, help="Seconds to wait for the browser to come back.")
@click.option("--no-browser", is_flag=True, help="Only print the address; do not try to open a browser.")
def datev_login(connection: str, timeout: int, no_browser: bool) -> None:
    """Sign in with DATEV (PKCE); the tokens are stored encrypted for unattended runs."""
    import webbrowser

    from datev_cin7_pipeline.datev.connect import datev_tokens_for
    from datev_cin7_pipeline.datev.oauth import LoopbackReceiver, start_login

    settings_ = require_connection(connection)
    tokens = datev_tokens_for(connection, settings_, _vault())
    request = start_login(tokens.endpoints, tokens.client, settings_.datev.redirect_uri)
    with LoopbackReceiver(settings_.datev.redirect_uri) as receiver:
        click.echo("Open this address to sign in with DATEV:")
        click.echo(f"  {request.url}")
        if not no_browser and (os.environ.get("DISPLAY") or sys.platform == "darwin"):
            webbrowser.open(request.url)
        answer = receiver.wait(timeout)
    tokens.complete_login(request, answer)
    click.echo(f"Signed in: connection {connection!r} can now reach DATEV.")


# --- webhooks ----------------------------------------------------------------------------------


@main.group()
def webhooks() -> None:
    """Receive Cin7 webhooks, and subscribe to them."""


@webhooks.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8787, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
def webhooks_serve(host: str, port: int) -> None:
    """Run the receiver: POST /webhooks/cin7/{connection} into the inbox (put TLS in front of it)."""
    import uvicorn

    from datev_cin7_pipeline.webhooks.app import build_webhook_app
    from datev_cin7_pipeline.webhooks.setup import receiver_connections

    config = load_connections()
    store = StateStore.open()
    connections = receiver_connections(config, store, CredentialsVault(store, actor=ACTOR))
    if not connections:
        raise ConnectorError("No connection has a webhook secret yet; run `datev-cin7 webhooks register --url URL`.")
    click.echo(f"Receiving webhooks for {', '.join(sorted(connections))} on http://{host}:{port}/webhooks/cin7/<name>")
    uvicorn.run(build_webhook_app(store, connections), host=host, port=port, log_level="warning")


@webhooks.command("register")
@click.option("--url", required=True, help="The public HTTPS address of the receiver (its base or the full path).")
@_connection_option
def webhooks_register(url: str, connection: str) -> None:
    """Create the Cin7 subscriptions we need, with our authentication, and re-activate disabled ones."""
    import secrets as random_secrets

    from datev_cin7_pipeline.cin7.connect import cin7_client_for
    from datev_cin7_pipeline.webhooks.app import WebhookAuth
    from datev_cin7_pipeline.webhooks.register import register_webhooks
    from datev_cin7_pipeline.webhooks.setup import WEBHOOK_SECRET, WEBHOOK_SERVICE

    settings_ = require_connection(connection)
    target = _receiver_url(url, connection)
    vault = _vault()
    secret = vault.get(connection, WEBHOOK_SERVICE, WEBHOOK_SECRET)
    if secret is None:
        vault.set(connection, WEBHOOK_SERVICE, WEBHOOK_SECRET, random_secrets.token_urlsafe(32))
        secret = vault.get(connection, WEBHOOK_SERVICE, WEBHOOK_SECRET)
        assert secret is not None
    auth = WebhookAuth(
        mode=settings_.webhooks.auth,
        secret=secret,
        username=settings_.webhooks.username,
        header_name=settings_.webhooks.header_name,
    )
    with cin7_client_for(connection, settings_, vault) as client:
        report = register_webhooks(client, target, auth)
    click.echo(f"Cin7 delivers to {target} ({settings_.webhooks.auth} authentication):")
    for label, events in (
        ("created", report.created),
        ("re-activated", report.reactivated),
        ("updated", report.updated),
        ("already active", report.unchanged),
    ):
        if events:
            click.echo(f"  {label}: {', '.join(events)}")


def _receiver_url(url: str, connection: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme not in ("https", "http") or not parts.hostname or (parts.scheme == "http" and not loopback):
        raise click.BadParameter("use an https:// address (http:// only for loopback).", param_hint="--url")
    if "/webhooks/cin7/" in parts.path:
        return url.strip()
    return url.strip().rstrip("/") + f"/webhooks/cin7/{connection}"


# --- sandbox -----------------------------------------------------------------------------------


@main.group()
def sandbox() -> None:
    """Simulators of Cin7 Core and DATEV on loopback, to try everything without accounts."""


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--cin7-port", default=8089, show_default=True, type=click.IntRange(0, 65535), help="Cin7 port.")
@click.option(
    "--cin7-data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="A folder of Cin7 JSON responses to serve (default: the generated demo company).",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the demo company.")
@click.option("--calls-per-minute", default=60, show_default=True, type=click.IntRange(1), help="Cin7 rate limit.")
@click.option("--datev-port", default=8090, show_default=True, type=click.IntRange(0, 65535), help="DATEV port.")
@click.option(
    "--datev-capture",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write every upload DATEV accepts, and manifest.jsonl, into this folder.",
)
@click.option(
    "--connect",
    "connect_as",
    default=None,
    metavar="CONNECTION",
    help="Also set up this connection in the home folder against the simulators (connections file, "
    "mapping, sandbox credentials, DATEV login), ready for `dg dev`.",
)
def sandbox_serve(
    host: str,
    cin7_port: int,
    cin7_data: Path | None,
    seed: int,
    calls_per_minute: int,
    datev_port: int,
    datev_capture: Path | None,
    connect_as: str | None,
) -> None:
    """Serve the Cin7 Core and DATEV simulators until interrupted (Ctrl-C)."""
    import threading

    from datev_cin7_pipeline.sandbox.cin7 import (
        DEMO_ACCOUNT_ID,
        DEMO_APPLICATION_KEY,
        Cin7SimConfig,
        DataFolderError,
        build_cin7_app,
        load_dataset,
    )
    from datev_cin7_pipeline.sandbox.datev import (
        DEMO_CLIENT_ID,
        DEMO_CLIENT_SECRET,
        DatevSimConfig,
        build_datev_app,
    )
    from datev_cin7_pipeline.sandbox.serving import serve_in_thread

    try:
        dataset = load_dataset(cin7_data) if cin7_data else None
    except DataFolderError as exc:
        raise ConnectorError(str(exc)) from None
    cin7_app = build_cin7_app(Cin7SimConfig(seed=seed, calls_per_minute=calls_per_minute), dataset)
    xsd = Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "datev" / "xsd" / "v060"
    datev_app = build_datev_app(DatevSimConfig(capture_folder=datev_capture, xsd_folder=xsd if xsd.is_dir() else None))
    with (
        serve_in_thread(cin7_app, host=host, port=cin7_port) as cin7,
        serve_in_thread(datev_app, host=host, port=datev_port) as datev_server,
    ):
        source = f"data from {cin7_data}" if cin7_data else f"demo company, seed {seed}"
        click.echo(f"Cin7 Core simulator: {cin7.url}/ExternalApi/v2/ ({source})")
        click.echo(f"  Account ID {DEMO_ACCOUNT_ID}, application key {DEMO_APPLICATION_KEY} (sandbox only)")
        click.echo(
            f"  admin: {cin7.url}/_sim/calls, /_sim/faults, /_sim/deliveries, /_sim/documents/<kind>/<id>/<action>"
        )
        click.echo(f"DATEV simulator: {datev_server.url} (set datev.simulator_url to this)")
        click.echo(
            f"  client id {DEMO_CLIENT_ID}, client secret {DEMO_CLIENT_SECRET} (sandbox only), client 29098-55003"
        )
        click.echo(f"  admin: {datev_server.url}/_sim/calls, /_sim/jobs, /_sim/documents, /_sim/faults")
        if datev_capture:
            click.echo(f"  capturing accepted uploads in {datev_capture}")
        if connect_as:
            from datev_cin7_pipeline.sandbox.cin7 import demo_dataset
            from datev_cin7_pipeline.sandbox.environment import SandboxOptions, connect_home_to_sandbox

            options = SandboxOptions(cin7_calls_per_minute=calls_per_minute, connection=connect_as)
            home = connect_home_to_sandbox(cin7.url, datev_server.url, dataset or demo_dataset(seed), options)
            click.echo(f"Connection {connect_as!r} in {home} now uses both simulators (logged in to DATEV).")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            click.echo("Stopped.")


@sandbox.command("export")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", default=0, show_default=True, help="Seed of the demo company.")
def sandbox_export(folder: Path, seed: int) -> None:
    """Write the demo company as a Cin7 data folder, to edit and serve with --cin7-data."""
    from datev_cin7_pipeline.sandbox.cin7 import demo_dataset, write_data_folder

    if folder.exists() and any(folder.iterdir()):
        raise ConnectorError(f"{folder} is not empty; choose a new folder.")
    dataset = demo_dataset(seed)
    write_data_folder(dataset, folder)
    click.echo(f"Wrote {len(dataset.sales)} sales and {len(dataset.purchases)} purchases to {folder}.")


# --- mapping -----------------------------------------------------------------------------------


@main.group()
def mapping() -> None:
    """Write and check the account and tax mapping of a connection."""


@mapping.command("init")
@click.option("--chart", type=click.Choice(["skr03", "skr04"]), required=True, help="The client's chart of accounts.")
@_connection_option
@click.option("--force", is_flag=True, help="Replace an existing mapping file.")
def mapping_init(chart: str, connection: str, force: bool) -> None:
    """Write a starter mapping from the presets and the connection's real Cin7 accounts, tax rules, locations."""
    from datev_cin7_pipeline.cin7.connect import cin7_client_for
    from datev_cin7_pipeline.cin7.models import Account, Location, TaxRule
    from datev_cin7_pipeline.mapping.starter import mapping_starter

    settings_ = require_connection(connection)
    path = settings_.mapping_path(connection, settings.home_dir())
    if path.exists() and not force:
        raise ConnectorError(f"{path} exists; edit it, or pass --force to write a new one.")
    with cin7_client_for(connection, settings_, _vault()) as client:
        accounts = [Account.model_validate(row) for row in client.paginate("ref/account", "AccountsList")]
        tax_rules = [TaxRule.model_validate(row) for row in client.paginate("ref/tax", "TaxRuleList")]
        locations = [Location.model_validate(row) for row in client.paginate("ref/location", "LocationList")]
    text = mapping_starter(chart, accounts, tax_rules, locations)  # type: ignore[arg-type]
    path.write_text(text, encoding="utf-8")
    todo = text.count("TODO")
    click.echo(f"Wrote {path} for {len(accounts)} accounts, {len(tax_rules)} tax rules, {len(locations)} locations.")
    click.echo(f"  {todo} value(s) marked TODO need a decision; then run `datev-cin7 mapping check`.")


@mapping.command("check")
@_connection_option
@click.option("--period", default=None, metavar="YYYY-MM", help="Also check the codes that period's documents use.")
def mapping_check(connection: str, period: str | None) -> None:
    """List every gap and conflict in the mapping (exit 1 when there is an error)."""
    from datev_cin7_pipeline.mapping.check import check_mapping

    settings_ = require_connection(connection)
    path = settings_.mapping_path(connection, settings.home_dir())
    if not path.exists():
        raise ConnectorError(f"There is no mapping file at {path}; run `datev-cin7 mapping init --chart skr03|skr04`.")
    period_data = _period_from_cin7(connection, settings_, period) if period else None
    issues = check_mapping(path, period_data)
    for issue in issues:
        click.echo(str(issue))
    errors = sum(1 for issue in issues if issue.severity == "error")
    warnings = len(issues) - errors
    summary = f"{errors} error(s), {warnings} warning(s) in {path}" + (f" for {period}" if period else "") + "."
    if errors:
        raise ConnectorError(summary)
    click.echo(summary)


def _period_from_cin7(connection: str, settings_: Any, period: str) -> Any:
    import datetime as dt

    from datev_cin7_pipeline.cin7.connect import cin7_client_for
    from datev_cin7_pipeline.cin7.period import load_period
    from datev_cin7_pipeline.cin7.sync import Cin7Sync

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        raise click.BadParameter("use YYYY-MM, e.g. 2026-10.", param_hint="--period")
    start = dt.date.fromisoformat(period + "-01")
    end = (start + dt.timedelta(days=32)).replace(day=1)
    store = StateStore.open()
    vault = CredentialsVault(store, actor=ACTOR)
    with store.session() as session:
        connection_id = ensure_connection(session, connection, actor=ACTOR)
    with cin7_client_for(connection, settings_, vault) as client:
        Cin7Sync(client, store, connection_id, horizon=start, actor=ACTOR).run()
    return load_period(store, connection_id, start, end)


# --- extf --------------------------------------------------------------------------------------


@main.group()
def extf() -> None:
    """EXTF Buchungsstapel files (DATEV-Format)."""


@extf.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--automatic-accounts",
    default="",
    metavar="LIST",
    help="Comma-separated automatic accounts (no tax key allowed on them); default: none.",
)
def extf_validate(files: tuple[Path, ...], automatic_accounts: str) -> None:
    """Check files against DATEV's EXTF rules: every finding with its code, line and field; exit 1 on an error."""
    from datev_cin7_pipeline.datev.extf.validator import validate_extf_file

    try:
        automatic = {int(part) for part in automatic_accounts.replace(" ", "").split(",") if part}
    except ValueError:
        raise click.BadParameter(
            "use account numbers separated by commas.", param_hint="--automatic-accounts"
        ) from None
    errors = 0
    for path in files:
        report = validate_extf_file(path, automatic_accounts=automatic)
        for finding in report.findings:
            click.echo(str(finding))
        errors += len(report.errors)
        click.echo(
            f"{path}: {report.rows} booking rows, {len(report.errors)} error(s), {len(report.warnings)} warning(s)"
        )
    if errors:
        raise ConnectorError(f"{errors} error(s) in {len(files)} file(s).")


# --- replay ------------------------------------------------------------------------------------


@main.command()
@click.option("--job", default=None, metavar="ID", help="A failed DATEV job: its Reference-Id or DATEV's job id.")
@click.option("--document", default=None, metavar="ID", help="A Cin7 document id (sale, purchase, …).")
@click.option("--period", default=None, metavar="YYYY-MM", help="A whole VAT period.")
@_connection_option
def replay(job: str | None, document: str | None, period: str | None, connection: str) -> None:
    """Send again what failed, after its cause is fixed; what DATEV accepted is never sent twice.

    Runs the Dagster job `replay_job` for each period concerned, in this process (recorded in the
    Dagster instance of DAGSTER_HOME when set).
    """
    import datetime as dt

    from datev_cin7_pipeline.periods import period_start
    from datev_cin7_pipeline.replay import plan_replay

    first_day = None
    if period is not None:
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
            raise click.BadParameter("use YYYY-MM, e.g. 2026-10.", param_hint="--period")
        first_day = dt.date.fromisoformat(period + "-01")
    quarterly = require_connection(connection).vat_period == "quarterly"
    if first_day is not None:
        first_day = period_start(first_day, quarterly=quarterly)  # a month names its quarter's partition
    store = StateStore.open()
    try:
        with store.session() as session:
            connection_id = ensure_connection(session, connection, actor=ACTOR)
        plan = plan_replay(store, connection_id, job=job, document=document, period=first_day, quarterly=quarterly)
    finally:
        store.dispose()
    failures = []
    for first, reasons in sorted(plan.periods.items()):
        click.echo(f"Replaying {first:%Y-%m}:")
        for reason in reasons:
            click.echo(f"  {reason}")
        outcome = _run_replay_job(connection, first)
        click.echo(f"  {outcome}")
        if not outcome.startswith("done"):
            failures.append(f"{first:%Y-%m}")
    if failures:
        raise ConnectorError(f"The replay of {', '.join(failures)} did not finish cleanly; see above.")


def _run_replay_job(connection: str, period: Any) -> str:
    """One `replay_job` run of the period; a one-line outcome with the period's jobs as the ledger has them."""
    from datev_cin7_pipeline.launch import run_job_for_period
    from datev_cin7_pipeline.store.ledger import period_jobs

    outcome = run_job_for_period("replay_job", connection, period, tags={"datev-cin7/by": ACTOR})
    store = StateStore.open()
    try:
        with store.session() as session:
            connection_id = ensure_connection(session, connection, actor=ACTOR)
            jobs = [f"{j.reference_id} {j.status}" for j in period_jobs(session, connection_id, period)]
    finally:
        store.dispose()
    detail = f"; failing checks: {', '.join(outcome.failed_checks)}" if outcome.failed_checks else ""
    state = "done" if outcome.clean else "not clean"
    return f"{state} (run {outcome.run_id[:8]}); DATEV jobs: {', '.join(jobs) or 'none'}{detail}"


# --- helpers -----------------------------------------------------------------------------------


def _vault() -> CredentialsVault:
    load_connections()  # a missing or mistyped connections file is reported before anything else
    return CredentialsVault(StateStore.open(), actor=ACTOR)


def _secret_value(given: str | None, label: str) -> str:
    """A secret from the option, from standard input ('-' or piped), or from a hidden prompt."""
    if given is not None and given != "-":
        return given
    stdin = sys.stdin
    if given == "-" or not stdin.isatty():  # piped: no prompt, no getpass echo warning
        value = stdin.readline().strip()
        if not value:
            raise ConnectorError(f"No {label} on standard input.")
        return value
    return str(click.prompt(label, hide_input=True))


def _print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


# --- demo --------------------------------------------------------------------------------------


@main.command()
@click.option("--period", default=None, metavar="YYYY-MM", help="The VAT period (default: the last complete month).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("datev-cin7-demo"),
    show_default=True,
    help="Folder for the results and the demo's own state (a second run there sends nothing new).",
)
@click.option(
    "--cin7-data",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A Cin7 data folder to serve (see `sandbox export`; default: the generated demo company).",
)
@click.option(
    "--mapping",
    "mapping_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="A mapping file to use (default: the demo company's completed mapping).",
)
def demo(period: str | None, out: Path, cin7_data: Path | None, mapping_file: Path | None) -> None:
    """Run one period through the whole pipeline against both simulators and write what DATEV received."""
    from datev_cin7_pipeline.demo import DemoOptions, run_demo

    run_demo(DemoOptions(out=out, period=period, cin7_data=cin7_data, mapping=mapping_file), echo=click.echo)


if __name__ == "__main__":  # pragma: no cover
    main()
