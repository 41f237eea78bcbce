"""connections.yaml: the starter file is valid and documented; typos and bad values are named exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from datev_cin7_pipeline.config import (
    CIN7_DEFAULT_BASE_URL,
    connections_template,
    load_connections,
    require_connection,
)
from datev_cin7_pipeline.errors import ConfigError


def test_the_starter_file_loads_with_the_documented_defaults(tmp_path: Path) -> None:
    path = tmp_path / "connections.yaml"
    path.write_text(connections_template("hamburg"))
    connection = load_connections(path).connections["hamburg"]
    assert connection.cin7.base_url == CIN7_DEFAULT_BASE_URL
    assert connection.cin7.calls_per_minute == 60
    assert connection.datev.consultant_number is None
    assert connection.datev.client_number is None
    assert connection.datev.client_type == "confidential"
    assert connection.datev.route == "extf"
    assert connection.vat_period == "monthly"
    assert connection.mapping_path("hamburg", tmp_path) == tmp_path / "mapping-hamburg.yaml"
    assert connections_template("hamburg").count("#") > 10  # documented inline


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("connections: {}\n", r"connections: List should have at least 1 item|connections: Dictionary should have"),
        ("connections:\n  Acme Corp: {}\n", "connection names use lower-case letters"),
        ("connections:\n  a:\n    cin7:\n      calls_per_minute: 0\n", "calls_per_minute: Input should be greater"),
        (
            "connections:\n  a:\n    datev:\n      consultant_number: 999\n",
            "consultant_number: Input should be greater",
        ),
        ("connections:\n  a:\n    datev:\n      route: csv\n", r"route: Input should be 'extf' or 'dxso'"),
        ("connections:\n  a:\n    vat_periode: monthly\n", r"connections.a.vat_periode: unknown setting"),
        ("version: 2\nconnections:\n  a: {}\n", "version: Input should be 1"),
        ("- just\n- a list\n", r"\(top level\): Input should be a valid dictionary"),
    ],
)
def test_bad_files_are_refused_with_the_place_and_reason(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "connections.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_connections(path)


def test_an_unknown_connection_lists_the_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "connections.yaml"
    path.write_text("connections:\n  hamburg: {}\n  muenchen: {}\n")
    with pytest.raises(ConfigError, match=r"no connection 'berlin' .* \(known: hamburg, muenchen\)"):
        require_connection("berlin", path)
