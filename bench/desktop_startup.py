"""Desktop app start-up: launch to an interactive window, model and history load, idle memory.

    nice -n 10 .venv/bin/python bench/desktop_startup.py [--runs 5] [--history 10000]

Each run launches ``python -m desktop.app`` as a fresh process (offscreen Qt,
its own temporary store and settings) and reads the milestones the app writes
to ``SYNTHSPOT_READY_FILE``: "interactive" (the first event-loop turn after the
window is shown), the model loaded, the history shown. Idle RSS is read from
/proc three seconds after everything loaded. The model is the synthetic
contract model from ``tests.fixtures.synthetic`` (tiny): a real detector adds its own
weights to the RSS and its load time to "model ready".
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def fill_store(path: Path, rows: int) -> None:
    from engine.result import LIKELY_AI, Result
    from engine.store import Store

    store = Store(path)
    for index in range(rows):
        store.put(Result(sha256=f"{index:064x}", source="dropped", path=f"/photos/IMG_{index:05d}.jpg",
                         width=4032, height=3024, format="JPEG", probability=0.9, verdict=LIKELY_AI,
                         scanned_at=1.7e9 + index, model_name="bench", model_version="1"), "bench@1")
    store.close()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def one_run(work: Path, model: Path, store: Path, expect_history: bool) -> dict:
    ready = work / f"ready-{time.monotonic_ns()}.jsonl"
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
               SYNTHSPOT_MODEL=str(model), SYNTHSPOT_STORE=str(store),
               SYNTHSPOT_SETTINGS=str(work / "settings.ini"), SYNTHSPOT_READY_FILE=str(ready),
               PYTHONPATH=str(REPO))
    launched = time.time()
    process = subprocess.Popen([sys.executable, "-m", "desktop.app"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        events: dict[str, dict] = {}
        wanted = {"interactive", "model_ready"} | ({"history"} if expect_history else set())
        deadline = time.monotonic() + 60
        while not wanted <= events.keys():
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"the app did not start (events so far: {sorted(events)})")
            time.sleep(0.01)
            if ready.exists():
                for line in ready.read_text().splitlines():
                    event = json.loads(line)
                    events.setdefault(event["event"], event)
        time.sleep(3.0)  # idle: history rows drawn, thumbnails of visible rows requested
        memory = rss_mib(process.pid)
    finally:
        process.terminate()
        process.wait(10)
    return {
        "interactive_ms": (events["interactive"]["time"] - launched) * 1000,
        "model_ready_ms": (events["model_ready"]["time"] - launched) * 1000,
        "history_ms": (events["history"]["time"] - launched) * 1000 if expect_history else None,
        "history_rows": events.get("history", {}).get("rows", 0),
        "idle_rss_mib": memory,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--history", type=int, default=0, help="results already in the store at start")
    args = parser.parse_args()
    from tests.fixtures.synthetic import brightness_model

    work = Path(tempfile.mkdtemp(prefix="synthspot-bench-startup-"))
    model = brightness_model(work / "model.onnx", crop_size=64, experts=("a", "b"), artifact_map_cells=8)
    store = work / "results.sqlite3"
    fill_store(store, args.history)
    one_run(work, model, store, args.history > 0)  # warm the OS file cache: later runs measure the app
    runs = [one_run(work, model, store, args.history > 0) for _ in range(args.runs)]

    def summary(key: str) -> str:
        values = [run[key] for run in runs]
        return f"median {statistics.median(values):7.0f}  min {min(values):7.0f}  max {max(values):7.0f}"

    print(f"desktop start-up, {args.runs} runs, history rows {runs[0]['history_rows']}, "
          f"platform {os.environ.get('QT_QPA_PLATFORM', 'offscreen')}, {os.cpu_count()} CPUs")
    print(f"  launch -> interactive window (ms): {summary('interactive_ms')}")
    print(f"  launch -> model ready (ms):        {summary('model_ready_ms')}")
    if args.history:
        print(f"  launch -> history shown (ms):      {summary('history_ms')}")
    print(f"  idle RSS (MiB):                    {summary('idle_rss_mib')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
