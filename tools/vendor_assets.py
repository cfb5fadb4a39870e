"""Refresh the third-party files that the offline map inlines into every page.

Run from the repository root with the machine's npm on PATH::

    .venv/bin/python tools/vendor_assets.py

It runs ``npm pack`` for the pinned packages in a temporary folder (through npm's configured
registry, nothing else touches the network), unpacks the tarballs and rewrites
``workbench/maps/static/vendor/``:

* ``leaflet/leaflet.js``, ``leaflet/leaflet.css``, ``leaflet/LICENSE`` from ``leaflet``;
  the source-map comment is dropped and the CSS images are inlined as ``data:`` URIs, so the
  page never asks for another file;
* ``world-atlas/countries.geojson`` and ``world-atlas/LICENSE`` from ``world-atlas``: the
  TopoJSON countries decoded to plain GeoJSON, coordinates rounded, repeated points dropped;
* ``README.md`` listing every file with its version, licence, npm integrity and SHA-256.

Running it twice gives byte-identical files.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

LEAFLET = "leaflet@1.9.4"
WORLD_ATLAS = "world-atlas@2.0.2"
LEAFLET_DRAW = "leaflet-draw@1.0.4"
ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "workbench" / "maps" / "static" / "vendor"

Position = list[float]
Ring = list[Position]


def npm_pack(spec: str, workdir: Path) -> tuple[Path, dict[str, Any]]:
    """Download one package tarball with ``npm pack`` and unpack it; return (folder, info)."""
    out = subprocess.run(
        ["npm", "pack", spec, "--json", "--silent"],
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    info = json.loads(out)[0]
    target = workdir / info["name"]
    with tarfile.open(workdir / info["filename"]) as tar:
        tar.extractall(target, filter="data")
    return target / "package", info


# -- TopoJSON -> GeoJSON ----------------------------------------------------------------------


def decode_arcs(topology: dict[str, Any]) -> list[list[Position]]:
    """Absolute lon/lat positions of every arc (undoing delta encoding and quantization)."""
    transform = topology.get("transform")
    arcs: list[list[Position]] = []
    for arc in topology["arcs"]:
        if transform is None:
            arcs.append([[float(p[0]), float(p[1])] for p in arc])
            continue
        (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
        x = y = 0
        positions = []
        for dx, dy, *_ in arc:
            x += dx
            y += dy
            positions.append([x * sx + tx, y * sy + ty])
        arcs.append(positions)
    return arcs


def simplify(points: list[Position], tolerance: float) -> list[Position]:
    """Douglas-Peucker on one arc; its two ends stay, so neighbouring countries still meet."""
    if tolerance <= 0 or len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (x1, y1), (x2, y2) = points[first], points[last]
        dx, dy = x2 - x1, y2 - y1
        norm = (dx * dx + dy * dy) ** 0.5
        worst, worst_at = -1.0, -1
        for i in range(first + 1, last):
            px, py = points[i]
            if norm == 0:  # a closed arc: distance to its start point
                d = ((px - x1) ** 2 + (py - y1) ** 2) ** 0.5
            else:
                d = abs(dy * px - dx * py + x2 * y1 - y2 * x1) / norm
            if d > worst:
                worst, worst_at = d, i
        if worst > tolerance:
            keep[worst_at] = True
            stack.extend([(first, worst_at), (worst_at, last)])
    return [p for p, k in zip(points, keep, strict=True) if k]


def ring_from_arcs(indexes: list[int], arcs: list[list[Position]], decimals: int) -> Ring:
    """Join arcs into one closed ring; a negative index ``~i`` means arc ``i`` reversed."""
    ring: Ring = []
    for index in indexes:
        points = arcs[index] if index >= 0 else arcs[~index][::-1]
        # consecutive arcs share their joining point: keep it once
        ring.extend(points[1:] if ring else points)
    rounded: Ring = []
    for lon, lat in ring:
        point = [round(lon, decimals), round(lat, decimals)]
        if not rounded or rounded[-1] != point:
            rounded.append(point)
    if rounded and rounded[0] != rounded[-1]:
        rounded.append(rounded[0])
    return rounded


def polygon_from_arcs(
    rings: list[list[int]], arcs: list[list[Position]], decimals: int
) -> list[Ring] | None:
    """Rings of one polygon; None when rounding collapsed its outer ring."""
    out = [ring_from_arcs(ring, arcs, decimals) for ring in rings]
    if len(out[0]) < 4:
        return None
    return [out[0], *(ring for ring in out[1:] if len(ring) >= 4)]


def topojson_to_geojson(
    topology: dict[str, Any], name: str, decimals: int, tolerance: float = 0.0
) -> dict[str, Any]:
    """Decode the geometry collection ``name`` of a TopoJSON topology to a FeatureCollection.

    Arcs are simplified (``tolerance`` in degrees) before they are joined, so shared borders
    are simplified once and stay identical on both sides.
    """
    arcs = [simplify(arc, tolerance) for arc in decode_arcs(topology)]
    features = []
    for geometry in topology["objects"][name]["geometries"]:
        kind = geometry.get("type")
        if kind == "Polygon":
            parts = [geometry["arcs"]]
        elif kind == "MultiPolygon":
            parts = geometry["arcs"]
        else:  # null geometries carry no shape to draw
            continue
        polygons = [p for p in (polygon_from_arcs(r, arcs, decimals) for r in parts) if p]
        if not polygons:
            continue
        shape: dict[str, Any] = (
            {"type": "Polygon", "coordinates": polygons[0]}
            if len(polygons) == 1
            else {"type": "MultiPolygon", "coordinates": polygons}
        )
        properties = {"name": geometry.get("properties", {}).get("name", "")}
        feature: dict[str, Any] = {"type": "Feature", "properties": properties, "geometry": shape}
        if "id" in geometry:
            feature["id"] = geometry["id"]
        features.append(feature)
    features.sort(key=lambda f: (str(f.get("id", "")), f["properties"]["name"]))
    return {"type": "FeatureCollection", "features": features}


# -- Leaflet ----------------------------------------------------------------------------------


def inline_js(path: Path) -> str:
    """A minified script without its trailing source-map comment (the map is not shipped)."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"\n?//# sourceMappingURL=\S+\s*$", "\n", text)
    if "</script" in text.lower():
        raise SystemExit(f"{path.name} contains '</script' and cannot be inlined safely")
    return text


def inline_css(path: Path) -> str:
    """A stylesheet with its ``url(images/...)`` PNG and SVG images as data URIs."""
    kinds = {".png": "image/png", ".svg": "image/svg+xml"}

    def inline(match: re.Match[str]) -> str:
        name = match.group(1)
        data = (path.parent / "images" / name).read_bytes()
        mime = kinds[Path(name).suffix]
        return f"url(data:{mime};base64,{base64.b64encode(data).decode('ascii')})"

    css = path.read_text(encoding="utf-8")
    return re.sub(r"url\('?images/([\w.-]+\.(?:png|svg))'?\)", inline, css)


DRAW_LICENSE = """\
Leaflet.draw {version}: MIT licence, as declared in the package's package.json
("license": "MIT"); the package ships no separate licence file. Its header reads:
(c) 2012-2017, Jacob Toye, Jon West, Smartrak, Leaflet. https://github.com/Leaflet/Leaflet.draw

Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


# -- README -----------------------------------------------------------------------------------

README = """\
# Vendored third-party files

The offline map (`workbench/maps.py`) inlines these files into every page it writes, so a map
opens with no network at all. Do not edit them by hand: refresh them with

    .venv/bin/python tools/vendor_assets.py [--resolution 50m|110m] [--decimals N] [--simplify DEG]

which runs `npm pack` for the pinned packages in a temporary folder and rewrites this folder.
To move to a newer version, change `LEAFLET` / `WORLD_ATLAS` at the top of that script.

## Files

- `leaflet/leaflet.js`: the Leaflet map library, minified, with its source-map comment
  removed. From npm `{leaflet}`, `dist/leaflet.js`. BSD-2-Clause, see `leaflet/LICENSE`.
- `leaflet/leaflet.css`: Leaflet's styles, its PNG images inlined as `data:` URIs.
  From npm `{leaflet}`, `dist/leaflet.css` and `dist/images/*.png`. BSD-2-Clause.
- `leaflet/LICENSE`: Leaflet's licence text, from npm `{leaflet}`.
- `world-atlas/countries.geojson`: country polygons for the offline basemap, {features}
  features. From npm `{world_atlas}`, `countries-{resolution}.json`: TopoJSON decoded to
  GeoJSON, shared borders simplified (Douglas-Peucker, {tolerance} degrees), coordinates
  rounded to {decimals} decimals. The packaging is ISC (see `world-atlas/LICENSE`); the data
  is Natural Earth {resolution} Admin 0 countries, in the public domain.
- `world-atlas/LICENSE`: world-atlas's licence text, from npm `{world_atlas}`.
- `leaflet-draw/leaflet.draw.js`: the Leaflet.draw plugin (polygon and rectangle tools of the
  interactive explorer), minified. From npm `{leaflet_draw}`, `dist/leaflet.draw.js`. MIT.
- `leaflet-draw/leaflet.draw.css`: its styles, the sprite sheets inlined as `data:` URIs.
  From npm `{leaflet_draw}`, `dist/leaflet.draw.css` and `dist/images/spritesheet*`. MIT.
- `leaflet-draw/LICENSE`: the MIT licence the package declares (it ships no licence file).

The basemap is for orientation at country and province scale (the simplification tolerance is
about 3 km); for street-level context pass a tile server to `site_map(tiles=...)`.
Natural Earth is in the public domain; the map credits it in the attribution line anyway.
The basemap shows de facto boundaries as drawn by Natural Earth, not a legal position.

## Integrity

npm tarballs:

- `{leaflet}`: `{leaflet_integrity}`
- `{world_atlas}`: `{world_atlas_integrity}`
- `{leaflet_draw}`: `{leaflet_draw_integrity}`

SHA-256 of the files written:

{hashes}
"""


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", choices=["50m", "110m"], default="50m")
    parser.add_argument("--decimals", type=int, default=3)
    parser.add_argument("--simplify", type=float, default=0.03, help="tolerance in degrees")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="workbench-vendor-") as tmp:
        work = Path(tmp)
        leaflet_dir, leaflet_info = npm_pack(LEAFLET, work)
        atlas_dir, atlas_info = npm_pack(WORLD_ATLAS, work)

        dist = leaflet_dir / "dist"
        write(VENDOR / "leaflet" / "leaflet.js", inline_js(dist / "leaflet.js"))
        write(VENDOR / "leaflet" / "leaflet.css", inline_css(dist / "leaflet.css"))
        write(VENDOR / "leaflet" / "LICENSE", (leaflet_dir / "LICENSE").read_text())

        topology = json.loads((atlas_dir / f"countries-{args.resolution}.json").read_text())
        countries = topojson_to_geojson(topology, "countries", args.decimals, args.simplify)
        geojson = json.dumps(countries, ensure_ascii=False, separators=(",", ":"))
        write(VENDOR / "world-atlas" / "countries.geojson", geojson + "\n")
        write(VENDOR / "world-atlas" / "LICENSE", (atlas_dir / "LICENSE").read_text())

        draw_dir, draw_info = npm_pack(LEAFLET_DRAW, work)
        draw_dist, out = draw_dir / "dist", VENDOR / "leaflet-draw"
        write(out / "leaflet.draw.js", inline_js(draw_dist / "leaflet.draw.js"))
        write(out / "leaflet.draw.css", inline_css(draw_dist / "leaflet.draw.css"))
        version = LEAFLET_DRAW.split("@")[1]
        write(VENDOR / "leaflet-draw" / "LICENSE", DRAW_LICENSE.format(version=version))

    files = sorted(p for p in VENDOR.rglob("*") if p.is_file() and p.name != "README.md")
    hashes = "\n".join(
        f"- `{p.relative_to(VENDOR).as_posix()}` ({p.stat().st_size:,} bytes): "
        f"`{hashlib.sha256(p.read_bytes()).hexdigest()}`"
        for p in files
    )
    write(
        VENDOR / "README.md",
        README.format(
            leaflet=LEAFLET,
            world_atlas=WORLD_ATLAS,
            leaflet_draw=LEAFLET_DRAW,
            leaflet_draw_integrity=draw_info.get("integrity", "?"),
            resolution=args.resolution,
            decimals=args.decimals,
            tolerance=args.simplify,
            features=len(countries["features"]),
            leaflet_integrity=leaflet_info.get("integrity", "?"),
            world_atlas_integrity=atlas_info.get("integrity", "?"),
            hashes=hashes,
        ),
    )
    for p in files:
        print(f"{p.relative_to(ROOT)}: {p.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
