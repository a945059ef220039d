"""Screenshot a report page with headless Chromium, to look at it as a reader would.

    python bench/screenshot_report.py REPORT.html OUT.png [--width 1280] [--height 4000]

Needs Debian's ``chromium`` (or ``chromium-browser``) on PATH. The page is loaded from the file
with a throw-away profile; the report itself needs no network and runs no script.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def screenshot(report: Path, out: Path, width: int = 1280, height: int = 4000) -> Path:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        raise SystemExit("chromium is not on PATH (Debian: apt-get install chromium)")
    out = out.resolve()
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        subprocess.run(
            [
                exe,
                "--headless",
                "--disable-gpu",
                "--no-sandbox",
                "--no-first-run",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={out}",
                report.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("report", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=4000)
    args = ap.parse_args()
    print(screenshot(args.report, args.out, args.width, args.height))


if __name__ == "__main__":
    sys.exit(main())
