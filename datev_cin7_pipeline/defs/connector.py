"""The `connector` resource: one configured connection (state store, vault, settings, mapping, clients)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.cin7.client import Cin7Client
from datev_cin7_pipeline.cin7.connect import cin7_client_for
from datev_cin7_pipeline.cin7.models import Attachment
from datev_cin7_pipeline.cin7.period import Cin7Period
from datev_cin7_pipeline.config import ConnectionSettings, require_connection
from datev_cin7_pipeline.datev.api import DatevApi
from datev_cin7_pipeline.datev.connect import datev_api_for, require_client_id
from datev_cin7_pipeline.datev.identities import period_pdfs
from datev_cin7_pipeline.datev.polling import PollSchedule
from datev_cin7_pipeline.mapping import MappingConfig, parse_mapping
from datev_cin7_pipeline.mapping.documents import SourceDocument
from datev_cin7_pipeline.store import CredentialsVault, StateStore
from datev_cin7_pipeline.store.connections import ensure_connection

ACTOR = "dagster"


@dataclass
class OpenConnection:
    """What one asset step needs of a connection; Cin7 and DATEV clients are built on first use."""

    name: str
    home: Path
    settings: ConnectionSettings
    store: StateStore
    vault: CredentialsVault
    connection_id: int
    poll_schedule: PollSchedule
    _closers: list[Any] = field(default_factory=list)

    @contextmanager
    def cin7(self) -> Iterator[Cin7Client]:
        with cin7_client_for(self.name, self.settings, self.vault) as client:
            yield client

    def datev(self) -> DatevApi:
        return datev_api_for(self.name, self.settings, self.vault)

    @property
    def datev_client_id(self) -> str:
        return require_client_id(self.name, self.settings)

    def mapping(self) -> MappingConfig:
        return parse_mapping(self.settings.mapping_path(self.name, self.home))

    def period_pdfs(self, period: Cin7Period) -> list[tuple[SourceDocument, Attachment | None, str | None]]:
        """The period's documents with their PDF and GUID (a rendered copy's, where configured and missing)."""
        return period_pdfs(period, self.name, rendered_copies=self.settings.datev.render_missing_pdfs)

    def exports_folder(self, period: dt.date) -> Path:
        """`<home>/exports/<connection>/<period>/`: the EXTF files of a period, named deterministically."""
        return self.home / "exports" / self.name / period.isoformat()


class ConnectorResource(dg.ConfigurableResource):
    """One connection of the connections file (default "default") with its state database.

    Empty `database_url` means DATEV_CIN7_DATABASE_URL or the home folder's SQLite file, as for the CLI.
    `poll_first_delay_seconds` is the first wait before asking DATEV for a job's status (then doubling).
    """

    connection: str = "default"
    database_url: str = ""
    poll_first_delay_seconds: float = 5.0

    @contextmanager
    def open(self, connection: str | None = None) -> Iterator[OpenConnection]:
        """The connection of a run's partition (`connection`), else the configured one."""
        name = connection or self.connection
        connection_settings = require_connection(name)
        store = StateStore.open(self.database_url or None)
        try:
            with store.session() as session:
                connection_id = ensure_connection(session, name, actor=ACTOR)
            yield OpenConnection(
                name=name,
                home=settings.home_dir(),
                settings=connection_settings,
                store=store,
                vault=CredentialsVault(store, actor=ACTOR),
                connection_id=connection_id,
                poll_schedule=PollSchedule(
                    first_delay=self.poll_first_delay_seconds,
                    max_wait=float(connection_settings.datev.job_wait_seconds),
                ),
            )
        finally:
            store.dispose()
