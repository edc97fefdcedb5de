"""Render an evaluation report in headless Chromium and save a screenshot (a real-browser check).

Usage::

    python scripts/screenshot_report.py report.html docs/images/evaluation-report.png [--width 1300] [--height 6000]
    python scripts/screenshot_report.py --demo docs/images/evaluation-report.png   # simulate, fit, evaluate, shoot

Chromium must be installed (Debian: ``apt-get install chromium``). The page is opened from a
``file://`` URL with networking features off; the report has no external assets, so nothing is
fetched. Exits with status 1 if the screenshot is missing, blank or of the wrong size.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(html_path: str | Path, png_path: str | Path, width: int = 1300, height: int = 6000,
               timeout: float = 120.0) -> Path:
    """Render ``html_path`` with headless Chromium into ``png_path`` (``width`` × ``height`` pixels)."""
    chromium = find_chromium()
    if chromium is None:
        raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
    png_path = Path(png_path).resolve()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bayesgen-chromium-") as profile:
        command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png_path}",
                   f"--window-size={width},{height}", Path(html_path).resolve().as_uri()]
        subprocess.run(command, check=True, timeout=timeout, capture_output=True)
    return png_path


def check_screenshot(png_path: str | Path, width: int, height: int) -> dict:
    """Size and content of a screenshot: raises ValueError if it is blank or of the wrong size."""
    import numpy as np
    from matplotlib.image import imread

    pixels = imread(str(png_path))
    shape = pixels.shape
    if shape[1] != width or shape[0] != height:
        raise ValueError(f"screenshot is {shape[1]}x{shape[0]}, expected {width}x{height}")
    rgb = pixels[..., :3]
    not_white = float((rgb.min(axis=2) < 0.95).mean())
    colours = len(np.unique((rgb.reshape(-1, 3) * 255).astype(np.uint8), axis=0))
    if not_white < 0.02 or colours < 50:
        raise ValueError(f"screenshot looks blank ({not_white:.1%} non-white pixels, {colours} colours)")
    return {"width": shape[1], "height": shape[0], "non_white": not_white, "colours": colours}


def demo_report(path: Path) -> None:
    """A report of a model fitted at epsilon = 1 on 10,000 SIMULATED patients."""
    import bayesgen as bg

    schema = bg.Schema.load("schemas/simulacrum_v2_core.yaml")
    real = bg.datasets.simulate_registry(10_000, rng=0, full=False)
    holdout = bg.datasets.simulate_registry(3_000, rng=1, full=False)
    model = bg.Synthesizer(schema, bg.Structure.load("structures/simulacrum_v2_compact.yaml"), epsilon=1.0).fit(real)
    bg.evaluate(real, model.sample(10_000, rng=2), schema, holdout=holdout, ledger=model.ledger_).to_html(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("html", nargs="?", help="the report (omit with --demo)")
    parser.add_argument("png", help="where to write the screenshot")
    parser.add_argument("--demo", action="store_true", help="make a demo report first (simulated data)")
    parser.add_argument("--width", type=int, default=1300)
    parser.add_argument("--height", type=int, default=6000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        source = Path(args.html) if args.html else Path(folder) / "report.html"
        if args.demo:
            demo_report(source)
        screenshot(source, args.png, args.width, args.height)
        try:
            facts = check_screenshot(args.png, args.width, args.height)
        except ValueError as exc:
            print(f"screenshot check failed: {exc}", file=sys.stderr)
            return 1
    print(f"wrote {args.png}: {facts['width']}x{facts['height']}, {facts['non_white']:.0%} non-white, "
          f"{facts['colours']} colours")
    return 0


if __name__ == "__main__":
    sys.exit(main())
