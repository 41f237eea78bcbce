"""`datev-cin7 extf validate`: a valid file passes with its row count, a broken one names the rule code,
line and field and exits 1, and a tax key on an automatic account is caught when the accounts are given."""

from __future__ import annotations

from pathlib import Path

from datev_cin7_pipeline_tests.datev_files.helpers import patch_field, valid_file
from datev_cin7_pipeline_tests.test_cli import run


def test_a_valid_file_passes(tmp_path: Path) -> None:
    path = tmp_path / "EXTF_ok.csv"
    path.write_bytes(valid_file())
    result = run("extf", "validate", str(path))
    assert result.code == 0, result.out + result.err
    assert result.out.strip().splitlines()[-1].startswith(f"{path}: ")
    assert ", 0 error(s)," in result.out


def test_a_broken_file_names_code_line_and_field(tmp_path: Path) -> None:
    good = tmp_path / "EXTF_good.csv"
    good.write_bytes(valid_file())
    bad = tmp_path / "EXTF_bad.csv"
    bad.write_bytes(patch_field(valid_file(), 3, 1, "119.00"))  # a decimal point instead of DATEV's comma
    result = run("extf", "validate", str(good), str(bad))
    assert result.code == 1
    findings = [line for line in result.out.splitlines() if line.startswith("EXTF-")]
    assert findings == [
        "EXTF-R002 error: EXTF_bad.csv, line 3, field 1 'Umsatz (ohne Soll/Haben-Kz)': "
        "Umsatz '119.00' is not 1–10 digits, comma, 2 digits"
    ]
    assert result.err.strip() == "Error: 1 error(s) in 2 file(s)."


def test_tax_keys_on_automatic_accounts(tmp_path: Path) -> None:
    path = tmp_path / "EXTF_key.csv"
    path.write_bytes(valid_file(tax_key="3"))
    plain = run("extf", "validate", str(path))
    assert plain.code == 0, plain.out
    strict = run("extf", "validate", "--automatic-accounts", "8400,8300", str(path))
    assert strict.code == 1
    assert "automatic" in strict.out.lower()
