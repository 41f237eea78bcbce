"""The connector's state database: credentials vault, webhook inbox, ledgers, DATEV jobs, audit trail.

Plain code (no Dagster). Open it with `StateStore.open()`; the schema migrates itself.
"""

from datev_cin7_pipeline.store.database import StateStore
from datev_cin7_pipeline.store.vault import CredentialInfo, CredentialsVault, Secret

__all__ = ["CredentialInfo", "CredentialsVault", "Secret", "StateStore"]
