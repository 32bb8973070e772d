"""How responsive the window stays while it scans, and how much memory it holds.

    nice -n 10 .venv/bin/python bench/desktop_responsiveness.py [--images 1000] [--size 1024x768]
    nice -n 10 .venv/bin/python bench/desktop_responsiveness.py --compare /tmp/old-tree [--rounds 2]

Builds the real main window (offscreen Qt unless QT_QPA_PLATFORM says otherwise)
on a temporary store and settings, drops a folder of ``--images`` JPEG photo-
like images onto it, and runs a 5 ms heartbeat timer on the GUI thread. A stall
is the time between two heartbeats beyond the 5 ms interval: what a person
would feel as the window not reacting. First 5 s idle, as a baseline for what the
machine's other load alone causes; then the scan. Reported: longest stall, 99th percentile
(the worst 1%) and how many stalls exceeded 50 ms and 100 ms, plus the scan's wall time and
throughput. The window is shown, a row is selected (so the detail pane loads
images), and the table scrolls every 200 ms during the scan, as a person
browsing results would. The model is the synthetic contract model with a few
real convolutions (tests/fixtures/synthetic.py), so inference costs CPU time like a small
real model.

The GUI thread's CPU time during the scan is printed too: unlike the stalls, it hardly depends on
what else the machine runs, so it compares two versions fairly on a busy machine.

Memory (the process's resident set, from /proc): idle with the model loaded, after the
1,000 images are scanned and browsed, and after one 48 MP JPEG is opened (scanned, selected,
its thumbnail and detail image shown); beside each the peak since start (VmHWM).

``--compare OLD`` runs this benchmark on another checkout's ``desktop`` and ``engine``
(a ``git worktree`` of an older commit) and on this one, alternately, ``--rounds`` times
each on the same images, and prints both and their ratio (this / old): measured side by
side, so the machine's other load weighs on both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from alternate import run_alternately

REPO = Path(__file__).resolve().parents[1]
HEARTBEAT_MS = 5
IDLE_BASELINE_MS = 5000
SETTLE_MS = 2000
BIG_SIZE = (8000, 6000)  # 48 MP


def make_images(folder: Path, count: int, width: int, height: int) -> None:
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(base).resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16)
    for index in range(count):  # a smooth "scene" with per-file brightness and noise: distinct bytes each
        target = folder / f"IMG_{index:05d}.jpg"
        if target.exists():
            continue
        pixels = smooth + rng.integers(-12, 12, smooth.shape, dtype=np.int16) + (index % 120 - 60)
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(target, quality=88)


def make_big_image(path: Path) -> None:
    import numpy as np
    from PIL import Image

    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = BIG_SIZE
    rng = np.random.default_rng(1)
    base = Image.fromarray(rng.integers(0, 255, (height // 16, width // 16, 3), dtype=np.uint8))
    base.resize((width, height), Image.Resampling.BILINEAR).save(path, quality=90)


def memory_mib() -> tuple[float, float]:
    """(resident now, peak resident since start or the last reset) of this process, MiB."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", float("nan")), values.get("VmHWM", float("nan"))


def reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux)
    except OSError:
        pass


def percentile(sorted_values: list[float], share: float) -> float:
    return sorted_values[max(0, int(len(sorted_values) * share) - 1)] if sorted_values else 0.0


class StallSampler:
    """A watchdog thread: while the GUI thread has not beaten for ``threshold_ms``, it samples that thread's
    Python stack every 5 ms, so the stalls can be told apart (our code in a slot, or waiting for the GIL)."""

    def __init__(self, threshold_ms: float):
        import threading

        self.threshold_s = threshold_ms / 1000
        self.last_beat = time.perf_counter()
        self.samples: dict[str, int] = {}
        self._gui = threading.main_thread().ident
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import traceback

        while not self._stop.wait(0.005):
            if time.perf_counter() - self.last_beat < self.threshold_s:
                continue
            frame = sys._current_frames().get(self._gui)
            if frame is None:
                continue
            stack = traceback.extract_stack(frame)[-6:]
            key = " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(stack))
            self.samples[key] = self.samples.get(key, 0) + 1

    def report(self) -> None:
        self._stop.set()
        print(f"GUI-thread stacks sampled every 5 ms during stalls over {self.threshold_s * 1000:.0f} ms:")
        for key, count in sorted(self.samples.items(), key=lambda item: -item[1])[:15]:
            print(f"  {count:5d}  {key}")


def measure(photos: Path, big: Path, work: Path, profile: Path | None = None,
            stall_stacks_ms: float = 0.0) -> dict:
    """One run of the window, in this process, on the ``desktop`` and ``engine`` first on sys.path."""
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
    app = QApplication.instance() or QApplication(sys.argv[:1])
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

    def run_loop(ms: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def scan(paths: list[str]) -> float:
        started = time.perf_counter()
        loop = QEventLoop()  # the real event loop, as app.exec() runs it
        session.service.scanFinished.connect(loop.quit)
        window.scan_paths(paths, "dropped")
        loop.exec()
        session.service.scanFinished.disconnect(loop.quit)
        return time.perf_counter() - started

    gaps: list[float] = []
    clock = QElapsedTimer()
    heartbeat = QTimer()
    heartbeat.setInterval(HEARTBEAT_MS)

    def beat() -> None:
        gaps.append(clock.nsecsElapsed() / 1e6)
        clock.restart()
        if sampler is not None:
            sampler.last_beat = time.perf_counter()

    heartbeat.timeout.connect(beat)
    sampler = None

    def browse() -> None:  # what a person does meanwhile: select a row, scroll
        rows = window.proxy.rowCount()
        if rows:
            window.select_proxy_row(int(time.perf_counter() * 7) % rows)

    browsing = QTimer()
    browsing.setInterval(200)
    browsing.timeout.connect(browse)

    # The same heartbeat with nothing to do: how much the machine itself (other processes) stalls us.
    clock.start()
    heartbeat.start()
    run_loop(IDLE_BASELINE_MS)
    idle_stalls = sorted(max(0.0, gap - HEARTBEAT_MS) for gap in gaps[1:])
    idle_rss, _ = memory_mib()
    gaps.clear()

    profiler = None
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile()  # the GUI thread only: what it does between heartbeats
        profiler.enable()
    if stall_stacks_ms:
        sampler = StallSampler(stall_stacks_ms)
    browsing.start()
    gui_cpu, process_cpu = time.thread_time(), time.process_time()  # this is the GUI thread
    scan_s = scan([str(photos)])
    gui_cpu, process_cpu = time.thread_time() - gui_cpu, time.process_time() - process_cpu
    heartbeat.stop()
    browsing.stop()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(str(profile))
    if sampler is not None:
        sampler.report()
    stalls = sorted(max(0.0, gap - HEARTBEAT_MS) for gap in gaps[1:])
    heartbeats = len(gaps)
    done = sum(row.status == "done" for row in window.model.rows())
    errors = sum(row.result is not None and not row.result.ok for row in window.model.rows())
    run_loop(SETTLE_MS)  # thumbnails of the rows in view, the detail image
    after_scan = memory_mib()

    big_scan_s = scan([str(big)])  # selected and shown, as the person who opened it sees it
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and window.detail_images.get(str(big)) is None \
            and not window.detail_images.failed(str(big)):
        run_loop(50)
    run_loop(SETTLE_MS)
    after_big = memory_mib()
    provider = session.service.detector.active_provider.upper()
    window.shutdown()
    session.shutdown()
    return {
        "images": done, "errors": errors, "scan_s": scan_s, "gui_cpu_s": gui_cpu, "process_cpu_s": process_cpu,
        "provider": provider, "heartbeats": heartbeats,
        "stall_max_ms": stalls[-1] if stalls else 0.0, "stall_p99_ms": percentile(stalls, 0.99),
        "stall_median_ms": statistics.median(stalls) if stalls else 0.0,
        "stalls_over_50": sum(s > 50 for s in stalls), "stalls_over_100": sum(s > 100 for s in stalls),
        "idle_stall_max_ms": idle_stalls[-1] if idle_stalls else 0.0,
        "idle_stall_p99_ms": percentile(idle_stalls, 0.99), "load_average": os.getloadavg()[0],
        "idle_rss_mib": idle_rss, "rss_after_scan_mib": after_scan[0], "peak_after_scan_mib": after_scan[1],
        "big_scan_s": big_scan_s, "rss_after_big_mib": after_big[0], "peak_after_big_mib": after_big[1],
    }


def print_run(figures: dict) -> None:
    f = figures
    print(f"scanned {f['images']} images ({f['errors']} errors) in {f['scan_s']:.1f} s = "
          f"{f['images'] / f['scan_s']:.1f} images/s on {os.cpu_count()} CPUs, provider {f['provider']}")
    print(f"event-loop stall over {f['heartbeats']} heartbeats of {HEARTBEAT_MS} ms: "
          f"longest {f['stall_max_ms']:.0f} ms, "
          f"p99 (worst 1%) {f['stall_p99_ms']:.0f} ms, median {f['stall_median_ms']:.1f} ms, "
          f">50 ms: {f['stalls_over_50']}, >100 ms: {f['stalls_over_100']}")
    print(f"CPU time during the scan: GUI thread {f['gui_cpu_s']:.1f} s, whole process {f['process_cpu_s']:.1f} s")
    print(f"idle baseline ({IDLE_BASELINE_MS / 1000:.0f} s, no scan): longest {f['idle_stall_max_ms']:.0f} ms, "
          f"p99 {f['idle_stall_p99_ms']:.0f} ms, load average {f['load_average']:.1f}")
    print(f"RSS: idle {f['idle_rss_mib']:.0f} MiB; after {f['images']} images {f['rss_after_scan_mib']:.0f} MiB "
          f"(peak {f['peak_after_scan_mib']:.0f}); after one 48 MP JPEG (scanned in {f['big_scan_s']:.1f} s, shown) "
          f"{f['rss_after_big_mib']:.0f} MiB (peak {f['peak_after_big_mib']:.0f}); target < 500 MiB")


COMPARED = [  # key, label, format
    ("stall_p99_ms", "stall p99, worst 1% (ms)", "{:.0f}"),
    ("stall_max_ms", "stall longest (ms)", "{:.0f}"),
    ("stalls_over_50", "stalls > 50 ms", "{:.0f}"),
    ("idle_stall_p99_ms", "idle baseline p99 (ms)", "{:.0f}"),
    ("scan_s", "scan wall time (s)", "{:.1f}"),
    ("gui_cpu_s", "GUI-thread CPU during the scan (s)", "{:.2f}"),
    ("process_cpu_s", "process CPU during the scan (s)", "{:.1f}"),
    ("idle_rss_mib", "RSS idle (MiB)", "{:.0f}"),
    ("rss_after_scan_mib", "RSS after the images (MiB)", "{:.0f}"),
    ("peak_after_scan_mib", "peak RSS during the images (MiB)", "{:.0f}"),
    ("rss_after_big_mib", "RSS after a 48 MP JPEG (MiB)", "{:.0f}"),
    ("peak_after_big_mib", "peak RSS incl. the 48 MP JPEG (MiB)", "{:.0f}"),
]


def compare(args, photos: Path, big: Path, root: Path) -> int:
    trees = {"old": Path(args.compare).resolve(), "new": REPO}
    runs = run_alternately(
        __file__, trees, args.rounds, root, ["--photos", str(photos), "--big", str(big)],
        lambda index, name, tree, figures: (
            f"round {index + 1} {name} ({tree}): p99 {figures['stall_p99_ms']:.0f} ms, "
            f"scan {figures['scan_s']:.0f} s, GUI CPU {figures['gui_cpu_s']:.1f} s, "
            f"RSS after images {figures['rss_after_scan_mib']:.0f} MiB, "
            f"after 48 MP {figures['rss_after_big_mib']:.0f} MiB"))
    print(f"\n{args.images} images of {args.size}, {args.rounds} rounds each, medians; ratio = new / old")
    print(f"{'':38s} {'old':>9s} {'new':>9s} {'ratio':>7s}")
    for key, label, form in COMPARED:
        old = statistics.median(run[key] for run in runs["old"])
        new = statistics.median(run[key] for run in runs["new"])
        ratio = f"{new / old:7.2f}" if old else "      -"
        print(f"{label:38s} {form.format(old):>9s} {form.format(new):>9s} {ratio}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", default="1024x768", help="WIDTHxHEIGHT of each image")
    parser.add_argument("--compare", metavar="OLD_TREE", help="also run an older checkout, alternately, and compare")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each tree with --compare")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the GUI thread during the scan into FILE")
    parser.add_argument("--stall-stacks", type=float, default=0.0, metavar="MS",
                        help="print the GUI thread's commonest Python stacks during stalls longer than MS")
    parser.add_argument("--photos", help=argparse.SUPPRESS)  # internal: images made by the comparing parent
    parser.add_argument("--big", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)  # the checkout whose desktop/engine run
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(args.code).resolve() if args.code else REPO))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.pop("SYNTHSPOT_MODEL", None)
    root = Path(tempfile.mkdtemp(prefix="synthspot-bench-responsive-"))
    photos = Path(args.photos) if args.photos else root / "photos"
    big = Path(args.big) if args.big else root / "big" / "IMG_48MP.jpg"
    if not args.photos:
        width, height = (int(v) for v in args.size.split("x"))
        started = time.perf_counter()
        make_images(photos, args.images, width, height)
        make_big_image(big)
        print(f"wrote {args.images} images of {width}x{height} and one of {BIG_SIZE[0]}x{BIG_SIZE[1]} "
              f"in {time.perf_counter() - started:.1f} s", flush=True)
    if args.compare:
        return compare(args, photos, big, root)
    work = Path(args.work) if args.work else root
    work.mkdir(parents=True, exist_ok=True)
    reset_peak()  # the images written above are not the app's memory
    figures = measure(photos, big, work, Path(args.profile) if args.profile else None,
                      args.stall_stacks)
    if args.json:
        print(json.dumps(figures))
    else:
        print_run(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
