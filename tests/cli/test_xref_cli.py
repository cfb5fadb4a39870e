"""``workbench xref`` and ``workbench exchange``: a few lines over the API, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from workbench.case._case import open_case
from workbench.cli._main import cli
from workbench.export._keys import PUBLIC_KEY, init_keys
from workbench.intake._table import load_table


def _case(path: Path, sellers: list[str], rows: list[tuple[str, str, str]], **extra) -> Path:
    exports = path.parent / f"exports-{path.stem}"
    exports.mkdir(parents=True)
    frames = {
        "sellers": pd.DataFrame({"seller_id": sellers, "platform": "taobao"}),
        "identifiers": pd.DataFrame(rows, columns=["seller_id", "kind", "value"]),
        **extra,
    }
    with open_case(path, actor="analyst") as case:
        results = []
        for table, frame in frames.items():
            frame.to_csv(exports / f"{table}.csv", index=False)
            results.append(load_table(exports / f"{table}.csv", table))
        case.ingest(results)
        case.link_sellers()
    return path


@pytest.fixture
def cases(tmp_path: Path) -> dict[str, Path]:
    # the earlier case: K1 and K2 share a card (network N0001), K2 had a counterfeit test
    # buy; the new case: M1 holds that card written with spaces, K9 is an account seen before
    evidence = pd.DataFrame(
        {"seller_id": ["K2"], "brand": ["Nike"], "kind": ["test_buy"],
         "verdict": ["counterfeit"], "date": ["2026-05-01"], "evidence_id": ["E1"]}
    )  # fmt: skip
    earlier = _case(
        tmp_path / "archive" / "putian-2025.gpkg",
        ["K1", "K2", "K9"],
        [("K1", "bank_card", "6222021234567890"), ("K2", "bank_card", "6222021234567890")],
        evidence=evidence,
    )
    new = _case(
        tmp_path / "putian-2026.gpkg", ["M1", "K9"], [("M1", "bank_card", "6222 0212 3456 7890")]
    )
    return {"archive": earlier.parent, "earlier": earlier, "new": new}


def test_xref_prints_a_summary_per_earlier_case(cases) -> None:
    result = CliRunner().invoke(
        cli, ["xref", str(cases["new"]), "--against", str(cases["archive"]), "--explain", "5"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["source", "sellers", "identifiers", "networks", "sites"]
    assert lines[1].split() == ["putian-2025", "1", "1", "0", "0"]  # K9; the card
    assert "  - this bank card was on 2 accounts of network N0001 in case putian-2025" in (
        result.output
    )


@pytest.mark.parametrize(
    ("against", "message"),
    [
        ("nowhere", r"Error: against: .*nowhere does not exist"),
        ("notes.txt", r"Error: against: .*notes.txt is not a case"),
    ],
)
def test_xref_mistakes_are_one_line(cases, tmp_path: Path, against: str, message: str) -> None:
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["xref", str(cases["new"]), "--against", str(tmp_path / against)]
    )
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1, result.output
    import re

    assert re.search(message, result.output), result.output


def test_exchange_round_trip_and_a_tampered_list(cases, tmp_path: Path) -> None:
    keys = init_keys(tmp_path / "keys")
    (tmp_path / "shared.key").write_text("ab" * 32 + "\n", encoding="ascii")
    runner = CliRunner()
    out = tmp_path / "list.json"
    exported = runner.invoke(
        cli,
        ["exchange", "export", str(cases["earlier"]), "--key-file", str(tmp_path / "shared.key"),
         "-o", str(out), "--keys-dir", str(keys), "--issuer", "Taobao IP"],
    )  # fmt: skip
    assert exported.exit_code == 0, exported.output
    assert "(1 hashed identifiers)" in exported.output  # K2's card (K1 is not confirmed)
    args = ["exchange", "import", str(cases["new"]), str(out), "--partner-key",
            str(keys / PUBLIC_KEY), "--key-file", str(tmp_path / "shared.key")]  # fmt: skip
    imported = runner.invoke(cli, args)
    assert imported.exit_code == 0, imported.output
    assert imported.output.startswith("1 matches (1 accounts)")
    assert "on Taobao IP's list of confirmed counterfeiters (Nike" in imported.output
    document = json.loads(out.read_text(encoding="utf-8"))
    document["entries"]["date"][0] = "2020-01-01"
    out.write_text(json.dumps(document), encoding="utf-8")
    refused = runner.invoke(cli, args)
    assert refused.exit_code == 1 and "tampered content" in refused.output
    assert len(refused.output.strip().splitlines()) == 1


def test_a_short_shared_key_is_refused(cases, tmp_path: Path) -> None:
    (tmp_path / "short.key").write_bytes(b"short key!")  # raw: 10 bytes
    result = CliRunner().invoke(
        cli,
        ["exchange", "export", str(cases["earlier"]), "--key-file", str(tmp_path / "short.key"),
         "-o", str(tmp_path / "l.json")],
    )  # fmt: skip
    assert result.exit_code == 1 and "holds 10 bytes; at least 32" in result.output
