"""Render data/regions.geojson with the simulator's facilities on top, to eyeball them.

``python tools/render_regions.py [/tmp/regions.png]``: an equirectangular PNG (Pillow), one
colour per region, one dot per facility coloured by its dominant fuel group.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nemlive.common.lookups import FUEL_COLOURS, fuel_group, hex_to_rgb  # noqa: E402
from oesim.regions_source import GEOJSON_PATH, feature_rings  # noqa: E402

REGION_FILL = {
    "NSW1": (200, 220, 240),
    "QLD1": (240, 220, 200),
    "SA1": (230, 200, 230),
    "TAS1": (200, 240, 210),
    "VIC1": (240, 240, 190),
}
LON0, LON1, LAT0, LAT1 = 128.0, 154.5, -9.5, -44.5
SCALE = 60  # pixels per degree


def to_px(lon: float, lat: float) -> tuple[float, float]:
    return (lon - LON0) * SCALE, (LAT0 - lat) * SCALE


def render(out: Path, facilities: list[dict], regions: dict) -> None:
    size = (int((LON1 - LON0) * SCALE), int((LAT0 - LAT1) * SCALE))
    img = Image.new("RGB", size, (250, 252, 255))
    draw = ImageDraw.Draw(img)
    for f in regions["features"]:
        for ring in feature_rings(f):
            pts = [to_px(x, y) for x, y in ring]
            draw.polygon(pts, fill=REGION_FILL[f["properties"]["region_id"]], outline=(60, 60, 60))
    for lon in range(130, 155, 5):
        draw.line([to_px(lon, LAT0), to_px(lon, LAT1)], fill=(220, 220, 220))
    for fac in facilities:
        units = [u for u in fac["units"] if u.get("capacity_registered")]
        main = max(units, key=lambda u: u["capacity_registered"])
        colour = hex_to_rgb(FUEL_COLOURS[fuel_group(main["fueltech_id"])])
        x, y = to_px(fac["location"]["lng"], fac["location"]["lat"])
        r = 3 + min(8, sum(u["capacity_registered"] for u in units) ** 0.5 / 8)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=colour, outline=(0, 0, 0))
    img.save(out)


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path("/tmp/regions.png")
    regions = json.loads(GEOJSON_PATH.read_text(encoding="utf-8"))
    try:
        from oesim.nem import NemDataset

        facilities = NemDataset().facilities()
    except ImportError:
        facilities = []
    render(out, facilities, regions)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
