"""How responsive the window stays while it scans: the longest event-loop stall.

    nice -n 10 .venv/bin/python bench/desktop_responsiveness.py [--images 1000] [--size 1024x768]

Builds the real main window (offscreen Qt unless QT_QPA_PLATFORM says otherwise)
on a temporary store and settings, drops a folder of ``--images`` JPEG photos-
like images onto it, and runs a 5 ms heartbeat timer on the GUI thread. A stall
is the time between two heartbeats beyond the 5 ms interval: what a person
would feel as the window not reacting. First 5 s idle, as a baseline for what the
machine's other load alone causes; then the scan. Reported: longest stall, 99th percentile
and how many stalls exceeded 50 ms and 100 ms, plus the scan's wall time and
throughput. The window is shown, a row is selected (so the detail pane loads
images), and the table scrolls every 200 ms during the scan, as a person
browsing results would. The model is the synthetic contract model with a few
real convolutions (tests/fixtures/synthetic.py), so inference costs CPU time like a small
real model.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
HEARTBEAT_MS = 5
IDLE_BASELINE_MS = 5000


def make_images(folder: Path, count: int, width: int, height: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(base).resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16)
    for index in range(count):  # a smooth "scene" with per-file brightness and noise: distinct bytes each
        pixels = smooth + rng.integers(-12, 12, smooth.shape, dtype=np.int16) + (index % 120 - 60)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(folder / f"IMG_{index:05d}.jpg", quality=88)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", default="1024x768", help="WIDTHxHEIGHT of each image")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.pop("SYNTHSPOT_MODEL", None)
    work = Path(tempfile.mkdtemp(prefix="synthspot-bench-responsive-"))
    started = time.perf_counter()
    make_images(work / "photos", args.images, width, height)
    print(f"wrote {args.images} images of {width}x{height} in {time.perf_counter() - started:.1f} s")

    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from desktop.app import configure_runtime
    from desktop.session import AppSession
    from desktop.settings import AppSettings
    from desktop.ui.main_window import MainWindow
    from engine.store import Store
    try:
        from tests.fixtures.synthetic import brightness_model
    except ModuleNotFoundError:  # an older checkout (--compare), from before the fixture moved
        from export.synthetic import brightness_model

    configure_runtime()  # as desktop.app.main does
    app = QApplication(sys.argv[:1])
    model = brightness_model(work / "model.onnx", crop_size=128, max_crops=8, experts=("a", "b"),
                             artifact_map_cells=16, extra_conv_layers=3, conv_channels=32)
    settings = AppSettings.open(work / "settings.ini")
    settings.model_path = str(model)
    session = AppSession(settings, Store(work / "results.sqlite3"))
    window = MainWindow(session)
    session.start()
    window.resize(1400, 900)
    window.show()
    while not session.service.model_state.ready:
        app.processEvents()
        time.sleep(0.01)

    gaps: list[float] = []
    clock = QElapsedTimer()
    heartbeat = QTimer()
    heartbeat.setInterval(HEARTBEAT_MS)

    def beat() -> None:
        gaps.append(clock.nsecsElapsed() / 1e6)
        clock.restart()

    heartbeat.timeout.connect(beat)

    def browse() -> None:  # what a person does meanwhile: select a row, scroll
        rows = window.proxy.rowCount()
        if rows:
            window.select_proxy_row(int(time.perf_counter() * 7) % rows)

    browsing = QTimer()
    browsing.setInterval(200)
    browsing.timeout.connect(browse)
    finished = []
    session.service.scanFinished.connect(lambda cancelled: finished.append(time.perf_counter()))

    # The same heartbeat with nothing to do: how much the machine itself (other processes) stalls us.
    clock.start()
    heartbeat.start()
    idle = QEventLoop()
    QTimer.singleShot(IDLE_BASELINE_MS, idle.quit)
    idle.exec()
    idle_stalls = sorted(max(0.0, gap - HEARTBEAT_MS) for gap in gaps[1:])
    gaps.clear()

    browsing.start()
    scan_started = time.perf_counter()
    window.scan_paths([str(work / "photos")], "dropped")
    loop = QEventLoop()  # the real event loop, as app.exec() runs it
    session.service.scanFinished.connect(loop.quit)
    loop.exec()
    scan_s = finished[0] - scan_started
    heartbeat.stop()
    browsing.stop()
    done = sum(row.status == "done" for row in window.model.rows())
    errors = sum(row.result is not None and not row.result.ok for row in window.model.rows())
    window.shutdown()
    session.shutdown()

    stalls = sorted(max(0.0, gap - HEARTBEAT_MS) for gap in gaps[1:])
    p99 = stalls[int(len(stalls) * 0.99) - 1] if stalls else 0.0
    print(f"scanned {done} images ({errors} errors) in {scan_s:.1f} s = {done / scan_s:.1f} images/s "
          f"on {os.cpu_count()} CPUs, provider {session.service.detector.active_provider.upper()}")
    print(f"event-loop stall over {len(gaps)} heartbeats of {HEARTBEAT_MS} ms: longest {stalls[-1]:.0f} ms, "
          f"p99 {p99:.0f} ms, median {statistics.median(stalls):.1f} ms, "
          f">50 ms: {sum(s > 50 for s in stalls)}, >100 ms: {sum(s > 100 for s in stalls)}")
    print(f"idle baseline ({IDLE_BASELINE_MS / 1000:.0f} s, no scan): longest {idle_stalls[-1]:.0f} ms, "
          f"p99 {idle_stalls[int(len(idle_stalls) * 0.99) - 1]:.0f} ms, load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
