"""Errors meant for people: each message is one clear sentence that says what to do.

Plain code raises these; the CLI prints the message without a traceback, and the pipeline shows it in
the run. Nothing secret ever goes into a message.
"""


class ConnectorError(Exception):
    """A problem the user can act on (bad configuration, missing key, unreachable database)."""


class ConfigError(ConnectorError):
    """The connections file or the home folder is missing or invalid."""


class StateStoreError(ConnectorError):
    """The state database cannot be opened, migrated or written."""


class VaultError(ConnectorError):
    """The credentials vault cannot encrypt or decrypt with the configured key(s)."""
