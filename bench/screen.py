"""The dispatcher's screen in Chromium with a city-sized picture: how fast it draws and updates.

`uv run python -m bench.screen [--runs 5] [--incidents 2000] [--units 1000] [--burst 500] [--web DIR]`

The screen (services/gateway/src/icc_gateway/web) is served as it is, with Leaflet from npm,
by `SyntheticPictureServer`: a stand-in for the gateway's API that exists only for this
benchmark. It answers the few calls the screen makes (session, incident types, map,
stations) and streams one synthetic picture (2,000 open incidents, 1,000 units) as the
gateway does (`event: snapshot`, then `event: change`), so the figures are the browser's
own work: parsing, the canvas map, the queue's rows, and the unit board.

Each run opens a fresh browser context (nothing cached) in Debian's Chromium and measures,
with the marks app.js sets:
- first render: navigation start -> `icc:rendered` (every marker and queue row of the
  snapshot drawn, after the frame that painted them), and snapshot received -> rendered;
- a burst of changes (default 500: incident updates, new and closed incidents, unit moves
  and status changes) pushed at once: from the first change received until the last one is
  received, all applied (`icc:apply`), and the next frame painted; and the main-thread time
  the screen spent applying them (the sum of the `icc:apply` measures).
The figures are medians over the runs. Playwright's own browsers are never downloaded.

`--web DIR` serves another copy of the screen's files, e.g. an older commit's, to compare
with in the same conditions:
`git archive COMMIT services/gateway/src/icc_gateway/web | tar -x -C /tmp/old`, then
`--web /tmp/old/services/gateway/src/icc_gateway/web`.
"""

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

from playwright.async_api import Browser, async_playwright

from bench import screen_picture
from bench.procs import Processes
from bench.screen_picture import LEAFLET_DIR, SyntheticPictureServer
from bench.settings import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PAGE_TIMEOUT_MS = 120_000

# Runs in the page: triggers the burst, then waits until every change is applied and the
# next frame painted. Times are the page's own clock (performance.now).
BURST_JS = """
async (n) => {
  const stats = window.__icc.stats;
  const target = stats.applied + n;
  const arrivals = [];
  const es = window.__icc.state.stream;
  const onChange = () => arrivals.push(performance.now());
  es.addEventListener('change', onChange);
  performance.clearMeasures('icc:apply');
  fetch(`/bench/burst?n=${n}`, { method: 'POST' });
  await new Promise((resolve) => {
    const check = () => (stats.applied >= target ? resolve() : requestAnimationFrame(check));
    check();
  });
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  const painted = performance.now();
  es.removeEventListener('change', onChange);
  const measures = performance.getEntriesByName('icc:apply');
  const last = measures[measures.length - 1];
  return {
    received_ms: arrivals[arrivals.length - 1] - arrivals[0],
    applied_ms: last.startTime + last.duration - arrivals[0],
    painted_ms: painted - arrivals[0],
    apply_cpu_ms: measures.reduce((s, m) => s + m.duration, 0),
    batches: measures.length,
  };
}
"""


def check_tools() -> None:
    if not CHROMIUM.exists():
        raise RuntimeError("Debian's Chromium is missing: apt-get install -y chromium")
    if not (LEAFLET_DIR / "leaflet.js").exists():
        raise RuntimeError("Leaflet is missing: scripts/ensure-tools.sh (npm ci)")


async def one_run(browser: Browser, url: str, burst: int) -> dict[str, float]:
    context = await browser.new_context(viewport={"width": 1600, "height": 900})
    try:
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(url)
        await page.wait_for_function(
            "() => performance.getEntriesByName('icc:rendered').length > 0",
            timeout=PAGE_TIMEOUT_MS,
        )
        first: dict[str, float] = await page.evaluate(
            """() => ({
                rendered_ms: performance.getEntriesByName('icc:rendered')[0].startTime,
                snapshot_ms: performance.getEntriesByName('icc:snapshot')[0].duration,
                markers: window.__icc.ui.map.incidents.size + window.__icc.ui.map.units.size,
                rows: document.querySelectorAll('#queue .qrow').length,
            })"""
        )
        # Let the first timers and the board settle, then the burst.
        await page.wait_for_timeout(1500)
        burst_figures: dict[str, float] = await page.evaluate(BURST_JS, burst)
        await page.wait_for_timeout(600)
        board_ms: float = await page.evaluate("window.__icc.ui.board.lastRenderMs || 0")
        if errors:
            raise RuntimeError(f"the screen failed: {errors[:3]}")
        return {**first, **burst_figures, "board_ms": board_ms}
    finally:
        await context.close()


async def measure(
    runs: int = 5, incidents: int = 2000, units: int = 1000, burst: int = 500
) -> dict[str, float]:
    """Medians over `runs` fresh page loads; raises when Chromium or Leaflet is missing."""
    check_tools()
    server = SyntheticPictureServer(incidents, units)
    server.start()
    samples: list[dict[str, float]] = []
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                for _ in range(runs):
                    server.reset()
                    samples.append(await one_run(browser, server.url, burst))
            finally:
                await browser.close()
    finally:
        server.stop()
    keys = samples[0].keys()
    return {k: statistics.median(s[k] for s in samples) for k in keys}


async def screen(procs: Processes, settings: Settings) -> dict[str, float]:
    """A harness for bench/suite.py: one repetition is 5 page loads (medians)."""
    del procs, settings  # nothing to start: the server and Chromium end with the harness
    figures = await measure(runs=5)
    return {
        "screen.first_render_ms": figures["rendered_ms"],
        "screen.snapshot_to_render_ms": figures["snapshot_ms"],
        "screen.burst_applied_ms": figures["applied_ms"],
        "screen.burst_painted_ms": figures["painted_ms"],
        "screen.burst_apply_cpu_ms": figures["apply_cpu_ms"],
        "screen.board_render_ms": figures["board_ms"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--units", type=int, default=1000)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--web", type=Path, help="the screen's files to serve (default: this tree's)"
    )
    args = parser.parse_args()
    if args.web:
        screen_picture.WEB_DIR = args.web.resolve()
    started = time.monotonic()
    figures = asyncio.run(measure(args.runs, args.incidents, args.units, args.burst))
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"Dispatcher screen in Chromium: {args.incidents} open incidents, {args.units} units, "
        f"a burst of {args.burst} changes; medians of {args.runs} fresh page loads "
        f"({time.monotonic() - started:.0f} s in all)"
    )
    rows = [
        ("first render: navigation -> all markers and rows painted", figures["rendered_ms"], "ms"),
        ("  of which snapshot received -> painted", figures["snapshot_ms"], "ms"),
        ("  markers on the map", figures["markers"], ""),
        ("  rows in the queue", figures["rows"], ""),
        (f"burst of {args.burst} changes, from the first one received:", float("nan"), "-"),
        ("  last one received", figures["received_ms"], "ms"),
        ("  all applied (model, markers, rows)", figures["applied_ms"], "ms"),
        ("  all applied and painted", figures["painted_ms"], "ms"),
        ("  main-thread time applying them (sum of icc:apply)", figures["apply_cpu_ms"], "ms"),
        ("  batches (at most one per animation frame)", figures["batches"], ""),
        ("unit board re-render (after the burst)", figures["board_ms"], "ms"),
    ]
    for name, value, unit in rows:
        shown = "" if unit == "-" else f"{value:,.0f}" if not unit else f"{value:,.1f} {unit}"
        print(f"  {name:<60} {shown:>12}")


if __name__ == "__main__":
    main()
