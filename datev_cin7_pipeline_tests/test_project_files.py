"""The README's test command is the one CI runs, and the package declares what the docs promise."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(python3 -m venv[^\n]*)\n```", readme)


def test_ci_runs_the_readme_test_command() -> None:
    commands = [c for c in _readme_commands() if "pytest" in c]
    assert len(commands) == 1
    ci = (REPO_ROOT / ".ci" / "run").read_text().splitlines()
    assert commands[0] in ci


def test_the_dagster_family_is_pinned_to_one_patch() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    pins = dict(
        re.match(r"([A-Za-z0-9_.-]+)==(\S+)", dep).groups()  # type: ignore[union-attr]
        for dep in project["project"]["dependencies"]
        if "==" in dep
    )
    assert pins == {
        "dagster": "1.13.27",
        "dagster-webserver": "1.13.27",
        "dagster-dg-cli": "1.13.27",
        "dagster-postgres": "0.29.27",
    }
    assert project["tool"]["dg"]["project"]["code_location_name"] == "datev_cin7_pipeline"
    assert project["project"]["scripts"]["datev-cin7"] == "datev_cin7_pipeline.cli:main"


def test_the_readme_has_two_setup_commands_the_demo_and_the_tests() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    assert commands[0] == "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/datev-cin7 demo"
    assert "pytest" in commands[1]


# The CLI's demo and its runs of the pipeline's jobs drive Dagster on purpose; nothing else outside defs/.
DAGSTER_DRIVERS = {"definitions.py", "demo.py", "launch.py"}


def test_plain_code_never_imports_dagster() -> None:
    package = REPO_ROOT / "datev_cin7_pipeline"
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "defs" not in path.relative_to(package).parts
        and str(path.relative_to(package)) not in DAGSTER_DRIVERS
        and re.search(r"^\s*(import dagster|from dagster)", path.read_text(), re.MULTILINE)
    ]
    assert offenders == []
