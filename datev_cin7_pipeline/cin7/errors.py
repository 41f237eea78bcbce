"""What can go wrong talking to Cin7 Core, sorted so callers know whether to retry, fix or give up."""

from __future__ import annotations

from datev_cin7_pipeline.errors import ConnectorError


class Cin7Error(ConnectorError):
    """Any failure of a Cin7 Core call; the message says which call and why, never a key."""


class Cin7AuthError(Cin7Error):
    """403: the Account ID / application key pair was refused."""


class Cin7RequestError(Cin7Error):
    """400/404/405: Cin7 refused the request itself; repeating it will not help."""

    def __init__(self, message: str, *, status: int, error_code: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.detail = detail


class Cin7UnavailableError(Cin7Error):
    """Throttling, 5xx or dropped connections outlasted the retries."""


class Cin7AttachmentError(Cin7Error):
    """An attachment cannot be taken: foreign host, not a PDF, or too large for DATEV."""
