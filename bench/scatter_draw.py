"""How long chromium takes to open and to move a digit scatter drawn in SVG against WebGL, by number of points.

    python bench/scatter_draw.py [--sizes 500 1000 2000 4000] [--reps 4]

Builds the figure the pages build (app_pages.kit.charts.digit_scatter: one trace per digit), as SVG ("scatter") and
as WebGL ("scattergl"), and times in headless chromium (the flags the tests use, so WebGL is software) Plotly.newPlot
(a chart opened) and Plotly.react with moved points (a frame of a replay), each to the second animation frame after
it. The last line is JSON: {points: {"svg_open_ms", "webgl_open_ms", "svg_move_ms", "webgl_move_ms",
"webgl_over_svg_open", "webgl_over_svg_move"}}, medians; a ratio above 1 means SVG is quicker. This is what
charts.SVG_MAX_POINTS is set from.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

TIMED = """async ([call, spec]) => { const fig = JSON.parse(spec);
    if (call === 'newPlot') Plotly.purge('g');
    const t0 = performance.now(); await Plotly[call]('g', fig.data, fig.layout);
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    return performance.now() - t0; }"""


def figure_json(n: int, kind: str, seed: int) -> str:
    """The pages' digit scatter of n random points, its traces drawn as `kind` ("scatter" or "scattergl")."""
    import numpy as np
    import plotly.io as pio

    from app_pages.kit import charts

    rng = np.random.default_rng(seed)
    fig = charts.digit_scatter(rng.normal(size=(n, 2)), rng.integers(0, 10, n), np.arange(n), ("PC1", "PC2"),
                               height=420)
    spec = json.loads(pio.to_json(fig))
    for trace in spec["data"]:
        trace["type"] = kind
    return json.dumps(spec)


async def measure(sizes: list[int], reps: int) -> dict:
    import plotly
    from playwright.async_api import async_playwright

    from appserver import CHROMIUM, CHROMIUM_FLAGS

    out = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await page.set_content("<div id=g style='width:700px;height:420px'></div>")
        await page.add_script_tag(path=str(Path(plotly.__file__).parent / "package_data" / "plotly.min.js"))
        await page.evaluate(TIMED, ["newPlot", figure_json(50, "scatter", 0)])  # plotly's own first-use costs
        for n in sizes:
            row = {}
            for kind, name in (("scatter", "svg"), ("scattergl", "webgl")):
                opened = [await page.evaluate(TIMED, ["newPlot", figure_json(n, kind, 0)]) for _ in range(reps)]
                moved = [await page.evaluate(TIMED, ["react", figure_json(n, kind, k + 1)]) for k in range(reps)]
                row[f"{name}_open_ms"] = round(statistics.median(opened), 1)
                row[f"{name}_move_ms"] = round(statistics.median(moved), 1)
            row["webgl_over_svg_open"] = round(row["webgl_open_ms"] / row["svg_open_ms"], 2)
            row["webgl_over_svg_move"] = round(row["webgl_move_ms"] / row["svg_move_ms"], 2)
            out[n] = row
            print(json.dumps({n: row}), file=sys.stderr)
        await browser.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 4000])
    ap.add_argument("--reps", type=int, default=4)
    a = ap.parse_args()
    print(json.dumps(asyncio.run(measure(a.sizes, a.reps))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
