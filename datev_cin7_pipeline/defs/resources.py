"""Resources: the state store, opened from the same environment variables the CLI reads, and the
connector for one connection of the connections file: `DATEV_CIN7_CONNECTION` (default "default").

A deployment with several connections runs one code location per connection, each with its own
`DATEV_CIN7_CONNECTION`; they share the instance's pools, so one Cin7 account is never hit by two steps.
"""

import dagster as dg

from datev_cin7_pipeline import settings
from datev_cin7_pipeline.defs.connector import ConnectorResource
from datev_cin7_pipeline.store import StateStore


class StateStoreResource(dg.ConfigurableResource):
    """The connector's state database; empty `database_url` means DATEV_CIN7_DATABASE_URL or the home."""

    database_url: str = ""

    def open(self) -> StateStore:
        return StateStore.open(self.database_url or None)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "state_store": StateStoreResource(),
            "connector": ConnectorResource(connection=settings.connection_name()),
        }
    )
