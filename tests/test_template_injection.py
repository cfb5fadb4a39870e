"""No data string is ever template source.

Jinja payloads are pushed through every text field of every input table (ids included) and
every output is read back: maps (run, ``site_map``, the explorer page), the run's files, the
signed bundle (HTML, PDF text, CSV, GeoJSON, KML, JSON), network exports. A payload that was
evaluated leaves a marker that the literal text never contains; a payload that executed code
leaves a file behind.
"""

from __future__ import annotations

import subprocess
import zlib
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

import workbench
from workbench.case._case import open_case
from workbench.export._bundle import export_tip_sheet
from workbench.export._keys import init_keys
from workbench.intake._table import load_table

pytestmark = pytest.mark.slow

# each payload, if Jinja ever parsed it as a template, would leave a trace the text lacks:
PAYLOADS = (
    "{{ 'wb' ~ 'pwn' }}",  # evaluated: "wbpwn"
    "{% for c in 'ab' %}WB{{ c }}{% endfor %}",  # evaluated: "WBaWBb"
    "{# WBCOMMENT #}",  # evaluated: vanishes, so the marker is missing
    "{{7*7}}x{{ 6*6 }}",  # evaluated: "49x36"
    "{% if",  # parsed: a TemplateSyntaxError instead of a page
    "{{ cycler.__init__.__globals__.os.system('touch PWNED') }}",  # evaluated: runs a command
)
EVALUATED = ("wbpwn", "WBaWBb", "49x36")
TABLES = ("sellers", "identifiers", "shipments", "evidence", "locations")
# fields with a fixed vocabulary (quarantined if changed), dates and numbers stay as they are
FIXED = {"kind", "verdict", "precision", "coord_system", "lat", "lon", "shipped_at", "date",
         "registered_at", "items", "value_cny", "file_sha256"}  # fmt: skip


def _hostile(value: object) -> object:
    """``value`` with a payload appended, the same payload for the same value (ids stay joined)."""
    if not isinstance(value, str) or not value:
        return value
    return f"{value} {PAYLOADS[zlib.crc32(value.encode()) % len(PAYLOADS)]}"


def _poison(folder: Path) -> None:
    """Append payloads to every free-text field of every table in ``folder``."""
    for table in TABLES:
        path = folder / f"{table}.csv"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        for column in frame.columns:
            if column not in FIXED:
                frame[column] = frame[column].map(_hostile)
        if table == "identifiers":  # kinds outside the fixed list are kept as text too
            frame.loc[frame.index[:5], "kind"] = [_hostile(f"kind{i}") for i in range(5)]
        frame.to_csv(path, index=False, encoding="utf-8")


def _texts(folder: Path) -> dict[str, str]:
    """Every readable file under ``folder`` (PDFs as their text), by relative path."""
    texts = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if path.suffix == ".pdf":
            out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)
            texts[name] = out.stdout.decode("utf-8")
        elif path.suffix in {".html", ".csv", ".geojson", ".kml", ".json", ".jsonl", ".txt",
                             ".graphml", ".gexf", ".md"}:  # fmt: skip
            texts[name] = path.read_text(encoding="utf-8")
    return texts


def _assert_inert(name: str, text: str) -> None:
    for marker in EVALUATED:
        assert marker not in text, f"{name}: a payload was evaluated ({marker!r})"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("inject")
    demo = workbench.generate_demo(root / "data", n_shipments=5_000, n_background_sellers=100)
    _poison(demo.folder)
    return SimpleNamespace(root=root, demo=demo)


@pytest.fixture(autouse=True)
def _in_tmp(world, monkeypatch: pytest.MonkeyPatch) -> None:
    # a payload that ran `touch PWNED` would leave the file in the working directory
    monkeypatch.chdir(world.root)


@pytest.fixture(autouse=True)
def _nothing_ran(world):
    yield
    assert not (world.root / "PWNED").exists(), "a data string ran a command in the kernel"


def test_payloads_reach_the_inputs(world) -> None:
    sellers = load_table(world.demo.folder / "sellers.csv", "sellers").frame
    assert sellers["name"].str.contains("WBCOMMENT", regex=False).any()
    assert sellers["seller_id"].str.contains("{{", regex=False).any()


def test_run_outputs_hold_the_payloads_as_text(world) -> None:
    out = world.root / "run"
    workbench.run_investigation(world.demo.folder, out)
    texts = _texts(out)
    assert {"map.html", "sites.geojson", "networks.csv", "intake-report.json"} <= set(texts)
    for name, text in texts.items():
        _assert_inert(name, text)
    assert "WBCOMMENT" in texts["map.html"]


def test_site_map_page_and_notebook_view(world) -> None:
    tables = {
        t: load_table(world.demo.folder / f"{t}.csv", t).frame
        for t in ("shipments", "sellers", "locations")
    }
    view = workbench.site_map(
        tables["shipments"], sellers=tables["sellers"], locations=tables["locations"]
    )
    page = view.to_html()
    assert page is not None and "WBCOMMENT" in page
    _assert_inert("site_map", page)
    _assert_inert("site_map iframe", view._repr_html_())


def test_case_bundle_explorer_and_networks(world) -> None:
    case = open_case(world.root / "case.gpkg", actor="analyst {{ 7*7 }}x{{ 6*6 }}")
    try:
        case.ingest([load_table(world.demo.folder / f"{t}.csv", t) for t in TABLES])
        run = case.find_sites(300)
        site = str(case.sites(run)["site_id"].iloc[0])
        case.review(site, status="confirmed", note="{% for c in 'ab' %}WB{{ c }}{% endfor %}",
                    by="lead {# WBCOMMENT #}")  # fmt: skip
        case.set_setting("organisation", "{{ 'wb' ~ 'pwn' }} Brand Protection")
        case.set_setting("contact", "ip-team@acme.example {# WBCOMMENT #}")
        keys = init_keys(world.root / "keys")
        bundle = export_tip_sheet(case, [site], out=world.root / "bundles", keys_dir=keys)
        texts = _texts(bundle)
        assert any(n.endswith("report.pdf") for n in texts)
        for name, text in texts.items():
            _assert_inert(name, text)
        assert "WBCOMMENT" in texts["data/report.html"]

        explorer = workbench.explore(case)
        assert "WBCOMMENT" in explorer.map.html
        _assert_inert("explorer page", explorer.map.html)
        _assert_inert("explorer details", explorer.details.value)
    finally:
        case.close()
