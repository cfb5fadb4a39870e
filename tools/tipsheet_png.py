"""Render the first page of a demo tip sheet's PDF to docs/images/tipsheet-pdf.png.

    python tools/tipsheet_png.py [--lang en|zh-CN] [--dpi 80]

Run by hand when the report's look changes: builds a small demo case in a temporary folder,
confirms its top site, exports a police bundle and converts page 1 with ``pdftoppm``
(Debian: poppler-utils).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from workbench.case._case import open_case
from workbench.demo._generate import generate_demo
from workbench.export._bundle import export_tip_sheet
from workbench.export._keys import init_keys
from workbench.intake._table import load_table

TARGET = Path(__file__).resolve().parents[1] / "docs" / "images" / "tipsheet-pdf.png"
TABLES = ("sellers", "identifiers", "shipments", "evidence", "locations")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", default="en", choices=["en", "zh-CN"])
    parser.add_argument("--dpi", type=int, default=80)
    args = parser.parse_args()
    if shutil.which("pdftoppm") is None:
        raise SystemExit("pdftoppm is missing: apt-get install poppler-utils")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        demo = generate_demo(root / "data", n_shipments=20_000, n_background_sellers=300)
        with open_case(root / "demo.gpkg", actor="analyst") as case:
            case.ingest([load_table(getattr(demo, t), t) for t in TABLES])
            case.find_sites(300)
            case.review("S001", status="confirmed", note="test buys matched", by="lead")
            case.set_setting("organisation", "Demo Brand Protection Unit")
            case.set_setting("contact", "ip-team@example.org")
            bundle = export_tip_sheet(
                case, ["S001"], lang=args.lang, out=root / "out", keys_dir=init_keys(root / "k")
            )
        stem = root / "page"
        subprocess.run(
            ["pdftoppm", "-png", "-r", str(args.dpi), "-f", "1", "-l", "1", "-singlefile",
             str(bundle / "data" / "report.pdf"), str(stem)],
            check=True,
        )  # fmt: skip
        TARGET.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(stem.with_suffix(".png"), TARGET)
    print(f"wrote {TARGET}")


if __name__ == "__main__":
    main()
