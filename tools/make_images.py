"""Make the pictures in docs/images/ that the README shows:

    report-resnet50.png   the HTML report of ResNet-50 (calc.render.html) as headless Chromium
                          draws it: summary, the per-block chart, the top of the table
    layers-resnet50.png   `plot(report, "layers", ...)` of ResNet-50: FLOPs per block (calc.plot)
    roofline-resnet50.png `plot(report, "roofline", ...)` of ResNet-50 at batch 32 in bf16 on an
                          A100 80 GB: each operation on the device's roofline (2mac FLOPs)

Needs the plot extra (pip install 'flopcalc[plot]': matplotlib brings Pillow, used here to
shrink the screenshot to a 256-colour PNG) and Chromium (Debian: apt-get install chromium).

    python3 tools/make_images.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WINDOW = (1200, 1500)
"""The screenshot's size in CSS pixels: the summary, the chart of 23 blocks, the table's top."""


def screenshot(html: str, out: Path) -> None:
    from PIL import Image

    browser = next((p for p in map(shutil.which, BROWSERS) if p), None)
    if browser is None:
        sys.exit("make_images: no Chromium found (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        shot = Path(tmp) / "shot.png"
        subprocess.run(
            [browser, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run", "--hide-scrollbars",
             f"--user-data-dir={tmp}/profile", "--host-resolver-rules=MAP * ~NOTFOUND",
             "--virtual-time-budget=10000", f"--window-size={WINDOW[0]},{WINDOW[1]}",
             f"--screenshot={shot}", page.as_uri()],
            check=True, capture_output=True, timeout=120,
        )
        image = Image.open(shot).convert("RGB")
    _save_small(image, out)


def _save_small(image, out: Path) -> None:
    """A 256-colour PNG (charts and text have few colours: a quarter of the full-colour size)."""
    from PIL import Image

    small = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(out, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"), help="folder to write to")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from PIL import Image

    from calc.compare import compare
    from calc.library import library_path
    from calc.network import load_network
    from calc.plot import plot_bytes
    from calc.render.html import render_html

    net = load_network(library_path("resnet50"))
    report = net.evaluate()
    screenshot(render_html(report, network=net, comparison=compare(net)), out / "report-resnet50.png")
    png = plot_bytes(report, "layers", "png")
    _save_small(Image.open(io.BytesIO(png)).convert("RGB"), out / "layers-resnet50.png")
    roof = net.evaluate("2mac", "bf16", batch=32)
    png = plot_bytes(roof, "roofline", "png", network=net, hardware="a100-sxm-80gb")
    _save_small(Image.open(io.BytesIO(png)).convert("RGB"), out / "roofline-resnet50.png")
    for name in ("report-resnet50.png", "layers-resnet50.png", "roofline-resnet50.png"):
        print(f"{out / name}: {(out / name).stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
