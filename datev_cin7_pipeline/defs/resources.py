"""Resources: the state store, opened from the same environment variables the CLI reads, and the
connector for the connections of the connections file (each run opens the connection of its partition).
"""

import dagster as dg

from datev_cin7_pipeline.defs.connector import ConnectorResource
from datev_cin7_pipeline.defs.partitions import SERVED_CONNECTIONS
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
            "connector": ConnectorResource(connection=SERVED_CONNECTIONS[0]),
        }
    )
