"""A faithful simulator of the Cin7 Core API v2 (Starlette), with a German demo company.

Typical use in a test:

    app = build_cin7_app(Cin7SimConfig(webhook_first_delay=0), demo_dataset(seed=1))
    with serve_in_thread(app) as server:
        base_url = server.url + "/ExternalApi/v2/"

Only scheme, host and port differ from `https://inventory.dearsystems.com/ExternalApi/v2/`.
"""

from datev_cin7_pipeline.sandbox.cin7.app import Cin7Simulator, build_cin7_app
from datev_cin7_pipeline.sandbox.cin7.config import (
    DEMO_ACCOUNT_ID,
    DEMO_APPLICATION_KEY,
    Cin7Account,
    Cin7SimConfig,
    Faults,
)
from datev_cin7_pipeline.sandbox.cin7.dataset import Cin7Dataset, DataFolderError, load_dataset, write_data_folder
from datev_cin7_pipeline.sandbox.cin7.demo import demo_dataset

__all__ = [
    "DEMO_ACCOUNT_ID",
    "DEMO_APPLICATION_KEY",
    "Cin7Account",
    "Cin7Dataset",
    "Cin7SimConfig",
    "Cin7Simulator",
    "DataFolderError",
    "Faults",
    "build_cin7_app",
    "demo_dataset",
    "load_dataset",
    "write_data_folder",
]
