"""How long the window freezes on what a person does to a large history.

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python bench/history_actions.py [--stored 25000]
    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python bench/history_actions.py --compare OLD_TREE [--rounds 2]

Builds a history of ``--stored`` results with the engine's Store API, once (a year of scans: six
crop scores and a heatmap each, 2% of the images also seen at a second path, 0.5% failed scans), or
takes ``--store FILE``. Each run copies it, opens the real main window on the copy (offscreen Qt unless
QT_QPA_PLATFORM says otherwise; throwaway settings; the synthetic contract model of
tests/fixtures/synthetic.py), waits until the history is in the list (the newest 20,000 rows) and runs
a 5 ms heartbeat timer on the GUI thread. Then, in turn:

  copy all         Ctrl+A on the list, then Copy (window.copy_selected)
  delete question  5,000 rows selected (a quarter of a smaller list), Delete from history
                   (Shift+Delete) until its question is shown; answered Cancel, so nothing is deleted
  sort by name     the Image column, ascending, then descending
  CSV export       every row, to a .csv file (window.export_results)

For each: the longest stall (the longest gap between heartbeats beyond their 5 ms, from the action's
start to 300 ms after it ends: what a person feels as the window not reacting) and its wall time.
An idle stretch first gives the stalls that the machine's other load alone causes.

``--compare OLD`` runs this benchmark on another checkout's ``desktop`` and ``engine`` (a ``git
worktree`` of an older commit) and on this one (or ``--code``), alternately, ``--rounds`` times each on
the same history, and prints both, medians, and their ratio (new / old).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

from alternate import run_alternately

REPO = Path(__file__).resolve().parents[1]
HEARTBEAT_MS = 5
SETTLE_MS = 300
IDLE_MS = 2000
DELETE_ROWS = 5000
FOLDERS = ["/home/ana/Pictures/2025", "/home/ana/Pictures/Phone", "/home/ana/Downloads",
           "/home/ana/Pictures/Holiday Greece", "/home/ana/Desktop/memes", "/home/ana/Documents/work/press"]
SOURCES = ["dropped", "watched", "opened", "browser", "clipboard", "cli"]
ACTIONS = ["copy all", "delete question", "sort by name, ascending", "sort by name, descending", "CSV export"]


def make_store(path: Path, count: int) -> None:
    """``count`` results over the past year, oldest first, in a new store at ``path``."""
    from engine.result import LIKELY_AI, LIKELY_REAL, UNCERTAIN, CropScore, Result
    from engine.store import Store

    rng = random.Random(0)
    store = Store(path)
    year_ago, year = time.time() - 365 * 86400, 365 * 86400
    for index in range(count):
        folder = rng.choice(FOLDERS)
        extension = rng.choice([".jpg", ".jpg", ".jpg", ".png", ".webp"])
        name = f"IMG_{20250000 + index}{extension}" if rng.random() < 0.7 else f"photo {index} édité{extension}"
        common = dict(sha256=hashlib.sha256(f"bytes-{index}".encode()).hexdigest(),
                      source=rng.choices(SOURCES, [30, 45, 10, 10, 3, 2])[0], path=f"{folder}/{name}",
                      scanned_at=year_ago + year * index / count, file_size=rng.randint(50_000, 8_000_000))
        if rng.random() < 0.005:
            store.put(Result(error="Not a readable image", **common), "")
            continue
        probability = rng.random()
        verdict = LIKELY_AI if probability >= 0.8 else LIKELY_REAL if probability <= 0.4 else UNCERTAIN
        result = Result(width=4000, height=3000, format="JPEG", jpeg_quality=90, probability=probability,
                        verdict=verdict, crops=[CropScore(0, 0, 512, round(rng.random(), 4)) for _ in range(6)],
                        expert_weights={"upsample": 0.4, "reconstruct": 0.3, "regenerate": 0.2, "inpaint": 0.1},
                        artifact_map=[[round(rng.random(), 3) for _ in range(32)] for _ in range(24)],
                        model_name="synthspot-lite0", model_version="12", provider="cpu",
                        timings_ms={"total": 321.0}, **common)
        store.put(result, "synthspot-lite0@12")
        if rng.random() < 0.02:  # the same bytes at a second path, seen a little later
            store.record_sighting(Result(sha256=result.sha256, source="watched", path=f"/home/ana/Backup/{name}",
                                         verdict=verdict, probability=probability,
                                         model_name="synthspot-lite0", model_version="12"))
    store.close()


class Heartbeat:
    """A 5 ms timer on the GUI thread; ``longest`` is the longest gap between its beats since ``reset``."""

    def __init__(self):
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.clock = QElapsedTimer()
        self.clock.start()
        self.longest = 0.0
        self.timer = QTimer()
        self.timer.setInterval(HEARTBEAT_MS)
        self.timer.timeout.connect(self._beat)
        self.timer.start()

    def _beat(self) -> None:
        self.longest = max(self.longest, self.clock.nsecsElapsed() / 1e6)
        self.clock.restart()

    def reset(self) -> None:
        self.longest = 0.0
        self.clock.restart()

    def stall_ms(self) -> float:
        return max(0.0, self.longest - HEARTBEAT_MS)


def run_loop(ms: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def timed(heartbeat: Heartbeat, action) -> dict:
    """Run ``action`` from the event loop, as a key press or a click would: its wall time (until it returns,
    or until the perf_counter() time it returns) and the longest stall until SETTLE_MS after it."""
    from PySide6.QtCore import QEventLoop, QTimer

    run_loop(200)  # what came before has settled
    loop = QEventLoop()
    figures: dict[str, float] = {}
    failed: list[BaseException] = []

    def act() -> None:
        heartbeat.reset()
        started = time.perf_counter()
        try:
            ended = action()
            figures["wall_s"] = (ended or time.perf_counter()) - started
        except BaseException as exc:  # raised below: a slot's exception would leave the loop running
            failed.append(exc)
        QTimer.singleShot(SETTLE_MS, loop.quit)

    QTimer.singleShot(0, act)
    loop.exec()
    if failed:
        raise failed[0]
    figures["stall_ms"] = heartbeat.stall_ms()
    return figures


def measure(store_file: Path, work: Path) -> dict:
    """One run of the window, in this process, on the ``desktop`` and ``engine`` first on sys.path."""
    from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from desktop.app import configure_runtime
    from tests.fixtures.synthetic import brightness_model
    from tests.fixtures.windows import throwaway_window

    configure_runtime()  # as desktop.app.main does
    app = QApplication.instance() or QApplication(sys.argv[:1])
    work.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(f"file:{store_file}?mode=ro", uri=True)) as source, \
            closing(sqlite3.connect(work / "results.sqlite3")) as copy:
        source.backup(copy)  # with whatever a write-ahead log beside it holds
    session, window = throwaway_window(work, brightness_model(work / "model.onnx", crop_size=128, max_crops=8))
    started, rows, steady_since = time.monotonic(), -1, time.monotonic()
    while not (session.service.model_state.ready and rows > 0 and time.monotonic() - steady_since > 2.0):
        if time.monotonic() - started > 300:
            raise TimeoutError("the history did not come in within 5 minutes")
        if window.model.rowCount() != rows:
            rows, steady_since = window.model.rowCount(), time.monotonic()
        app.processEvents()
        time.sleep(0.02)

    heartbeat = Heartbeat()
    figures: dict = {"rows": rows}
    heartbeat.reset()
    run_loop(IDLE_MS)
    figures["idle"] = {"stall_ms": heartbeat.stall_ms(), "wall_s": IDLE_MS / 1000}

    def copy_all() -> None:
        window.table.setFocus()
        QTest.keyClick(window.table, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        window.copy_selected()

    figures["copy all"] = timed(heartbeat, copy_all)
    figures["copied_mb"] = len(QApplication.clipboard().text().encode()) / 1e6

    proxy, last_column = window.proxy, window.proxy.columnCount() - 1
    window.table.selectionModel().select(
        QItemSelection(proxy.index(0, 0), proxy.index(min(DELETE_ROWS, rows // 4) - 1, last_column)),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
    asked: list[float] = []
    answer = QTimer()
    answer.setInterval(1)

    def cancel_question() -> None:
        box = QApplication.activeModalWidget()
        if box is not None:
            asked.append(time.perf_counter())
            box.reject()  # Cancel

    answer.timeout.connect(cancel_question)

    def ask_delete() -> float | None:
        answer.start()
        window.delete_action.trigger()
        answer.stop()
        return asked[0] if asked else None

    figures["delete question"] = timed(heartbeat, ask_delete)
    if not asked:
        raise RuntimeError("Delete from history asked nothing")
    figures["rows_after_cancel"] = window.model.rowCount()

    window.select_proxy_row(0)
    figures["sort by name, ascending"] = timed(
        heartbeat, lambda: window.table.sortByColumn(0, Qt.SortOrder.AscendingOrder))
    figures["sort by name, descending"] = timed(
        heartbeat, lambda: window.table.sortByColumn(0, Qt.SortOrder.DescendingOrder))

    exported = work / "export.csv"

    def export() -> None:
        window.export_results(str(exported))

    figures["CSV export"] = timed(heartbeat, export)
    with open(exported, encoding="utf-8-sig") as lines:
        figures["exported_lines"] = sum(1 for _ in lines)
    heartbeat.timer.stop()
    # The copied QMimeData is Python's: freed by Qt's exit handlers, after Python, it crashes the process.
    QApplication.clipboard().clear()
    window.shutdown()
    session.shutdown()
    return figures


def print_run(figures: dict) -> None:
    print(f"{figures['rows']:,} rows in the list; copied {figures['copied_mb']:.1f} MB of text; "
          f"{figures['rows_after_cancel']:,} rows after the delete was cancelled; "
          f"{figures['exported_lines']:,} lines exported")
    for action in ["idle", *ACTIONS]:
        print(f"{action:26s} longest stall {figures[action]['stall_ms']:8.0f} ms, "
              f"wall {figures[action]['wall_s']:7.2f} s")


def compare(args, store: Path, root: Path) -> int:
    trees = {"old": Path(args.compare).resolve(), "new": Path(args.code or REPO).resolve()}
    runs = run_alternately(
        __file__, trees, args.rounds, root, ["--store", str(store)],
        lambda index, name, tree, figures: f"round {index + 1} {name} ({tree}): " + ", ".join(
            f"{action} {figures[action]['stall_ms']:.0f} ms" for action in ACTIONS))
    rows = runs["new"][0]["rows"]
    print(f"\n{rows:,} rows in the list, {args.rounds} rounds each, medians; ratio = new / old")
    print(f"{'':26s} {'longest stall (ms)':^22s}   {'wall time (s)':^22s}")
    print(f"{'':26s} " + "   ".join(f"{'old':>8s} {'new':>7s} {'ratio':>5s}" for _ in range(2)))
    for action in ["idle", *ACTIONS]:
        cells = []
        for key, form in (("stall_ms", "{:.0f}"), ("wall_s", "{:.2f}")):
            old = statistics.median(run[action][key] for run in runs["old"])
            new = statistics.median(run[action][key] for run in runs["new"])
            ratio = f"{new / old:5.2f}" if old else "    -"
            cells.append(f"{form.format(old):>8s} {form.format(new):>7s} {ratio}")
        print(f"{action:26s} " + "   ".join(cells))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stored", type=int, default=25000, help="results in the history made for the runs")
    parser.add_argument("--store", type=Path, help="an existing results.sqlite3 to copy instead (never changed)")
    parser.add_argument("--compare", metavar="OLD_TREE", help="also run an older checkout, alternately, and compare")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each tree with --compare")
    parser.add_argument("--code", metavar="TREE", help="the checkout whose desktop/engine run (default: this one)")
    parser.add_argument("--work", help=argparse.SUPPRESS)  # internal: a run's folder, from the comparing parent
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(args.code or REPO).resolve()))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.pop("SYNTHSPOT_MODEL", None)
    root = Path(tempfile.mkdtemp(prefix="synthspot-bench-history-"))
    store = args.store
    if store is None:
        store = root / "history.sqlite3"
        started = time.perf_counter()
        make_store(store, args.stored)
        print(f"stored {args.stored:,} results in {time.perf_counter() - started:.0f} s", flush=True)
    if args.compare:
        return compare(args, store, root)
    figures = measure(store, Path(args.work) if args.work else root / "run")
    if args.json:
        print(json.dumps(figures))
    else:
        print_run(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
