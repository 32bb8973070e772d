"""``synthspot-app``: start the desktop app.

``synthspot-app [PATH ...]`` scans the given files and folders at start (source
"command line"); ``--model PATH`` picks the model for this run (over Settings', not saved); ``--selftest``
checks the installation, prints each check and exits (desktop/selftest.py).
``SYNTHSPOT_STORE`` and ``SYNTHSPOT_SETTINGS`` point the app at another results
database and settings file (tests, benchmarks, portable use); ``SYNTHSPOT_MODEL``
names a model file, as for the CLI, used when Settings name none. ``SYNTHSPOT_READY_FILE`` makes the app append
its start-up milestones there as JSON lines (for benchmarks).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from typing import cast

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

import engine
from desktop.session import AppSession
from desktop.settings import APPLICATION, ORGANISATION, AppSettings
from desktop.single_instance import BUSY, HANDED, InstanceServer, instance_name, send_to_running
from desktop.store_recovery import open_store
from desktop.ui.window import create_window
from engine.models import MODEL_ENV
from engine.store import STORE_ENV, default_store_path


# Qt's own command-line options (QGuiApplication and QApplication), which go on to Qt; any other option is
# refused, where it used to start the window without a word (`--version`, a mistyped `--selftst`).
QT_OPTIONS_WITH_VALUE = frozenset({"platform", "platformpluginpath", "platformtheme", "plugin", "qmljsdebugger",
                                   "qwindowgeometry", "qwindowicon", "qwindowtitle", "session", "display",
                                   "geometry", "style", "stylesheet"})
QT_OPTIONS = QT_OPTIONS_WITH_VALUE | {"reverse", "widgetcount", "nograb", "dograb", "sync"}


def build_parser(prog: str = "synthspot-app") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="SynthSpot: find AI-generated images, locally.",
        epilog="Without a window: `synthspot scan PATH...`, `synthspot serve`, `synthspot models` (each with "
               "--help), from the pip install or the Linux bundle.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {engine.__version__}")
    parser.add_argument("paths", nargs="*", help="image files or folders to scan at start")
    parser.add_argument("--model", metavar="PATH",
                        help="a SynthSpot .onnx model for this run, over the one chosen in Settings (not saved)")
    parser.add_argument("--selftest", action="store_true",
                        help="check this installation (model, sample scan, bridge, window), print each check, "
                             "exit 0 only when all passed")
    return parser


def accept_later_launches(window, server: InstanceServer) -> None:
    """A second ``synthspot-app [PATH ...]`` lands here: its paths are scanned, the window comes forward."""
    def arrived(paths: list[str]) -> None:
        window.bring_to_front()
        if paths:
            window.scan_paths(paths, "cli")

    server.deliver_to(arrived)


READY_ENV = "SYNTHSPOT_READY_FILE"


def report_milestones(path: str, session: AppSession) -> None:
    """Append when the window became interactive, the model loaded and history arrived."""
    def write(event: str, **extra) -> None:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"event": event, "time": time.time(), **extra}) + "\n")

    QTimer.singleShot(0, lambda: write("interactive"))  # the first turn of the event loop after show()
    session.service.modelStateChanged.connect(lambda state: write(f"model_{state.state}"))
    session.service.historyLoaded.connect(lambda history: write("history", rows=len(history)))


def configure_runtime() -> None:
    """Hand the GIL back to the GUI thread within 1 ms (Python's default is 5 ms): scanner
    threads hold it in short bursts, and every paint of the table calls into Python."""
    sys.setswitchinterval(0.001)


def split_qt_options(argv: list[str]) -> tuple[list[str], list[str]]:
    """(the app's arguments, Qt's own options with their values: ``-platform offscreen``, ``--style=Fusion``)."""
    ours: list[str] = []
    qt: list[str] = []
    index = 0
    while index < len(argv):
        argument = argv[index]
        option, equals, _value = argument.lstrip("-").partition("=")
        if argument.startswith("-") and option in QT_OPTIONS:
            qt.append(argument)
            if option in QT_OPTIONS_WITH_VALUE and not equals and index + 1 < len(argv):
                index += 1
                qt.append(argv[index])  # the option's value, not a path to scan
        else:
            ours.append(argument)
        index += 1
    return ours, qt


def parse_arguments(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """(SynthSpot's options, Qt's); anything else ends the program with a usage message (exit 2)."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    parser = build_parser(name if name in ("synthspot", "synthspot-app") else "synthspot-app")
    ours, qt = split_qt_options(argv)
    return parser.parse_intermixed_args(ours), qt


def absolute_paths(paths: list[str]) -> list[str]:
    """The command line's paths made absolute here, where the launch's working folder is known. Started
    from a folder since deleted, relative ones cannot be found: said on stderr and left out (they used to
    crash the window)."""
    try:
        here = os.getcwd()
    except OSError:
        here = ""
    found = [path if os.path.isabs(path) else os.path.join(here, path) for path in paths
             if os.path.isabs(path) or here]
    if len(found) < len(paths):
        print(f"synthspot-app: the current folder no longer exists, so {len(paths) - len(found)} relative "
              "path(s) cannot be found: give full paths", file=sys.stderr)
    return [os.path.normpath(path) for path in found]


def main(argv: list[str] | None = None) -> int:
    args, qt_args = parse_arguments(sys.argv[1:] if argv is None else argv)
    args.paths = absolute_paths(args.paths)
    logging.basicConfig(level=logging.WARNING, format="synthspot-app: %(levelname)s %(message)s")
    model_override = os.path.abspath(args.model) if args.model else ""
    if args.selftest:
        if model_override:  # the self-test finds its model as the CLI does
            os.environ[MODEL_ENV] = model_override
        from desktop.selftest import run_selftest

        return run_selftest()
    configure_runtime()
    app = cast(QApplication, QApplication.instance() or QApplication([sys.argv[0], *qt_args]))
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setQuitOnLastWindowClosed(False)  # the tray may keep the app alive; the window quits explicitly
    name = instance_name(default_store_path())
    running = send_to_running(name, args.paths)
    if running == HANDED:
        return 0  # the running window scans them and comes to the front
    if running == BUSY:
        QMessageBox.information(None, "SynthSpot is busy",
                                "SynthSpot is already open but did not answer in time (it may be busy with a large "
                                "task). Anything opened with it is scanned once it answers; if it stays unanswering, "
                                "quit it and start SynthSpot again.")
        return 0
    server = InstanceServer(name)
    server.listen()
    store, unsaved_reason = open_store(default_store_path(), ours=not os.environ.get(STORE_ENV))
    if store is None:  # the person chose Quit over a history that cannot be used
        server.close()
        return 1
    session = AppSession(AppSettings.open(), store, model_override=model_override, unsaved_reason=unsaved_reason,
                         pairing_folder=default_store_path().parent if unsaved_reason else None)
    window = create_window(session)
    accept_later_launches(window, server)
    if os.environ.get(READY_ENV):
        report_milestones(os.environ[READY_ENV], session)
    session.start()
    window.show()
    if args.paths:  # as Ctrl+O does: scanned, then the first one selected and scrolled into view
        window.scan_paths(args.paths, "cli")
    # Ctrl+C in a terminal, and a logout's or `kill`'s SIGTERM, quit as Quit does (window layout, the watched
    # folders' last moment and the hand-off socket saved or removed); Python only sees signals while it runs,
    # so it is woken now and then.
    # Through the window's own Quit: a bare app.quit() closed the window, whose close asks "Quit SynthSpot?"
    # where folders are watched without a tray, and a logout's SIGTERM waited on that question.
    signal.signal(signal.SIGINT, lambda *_: window.quit_app())
    signal.signal(signal.SIGTERM, lambda *_: window.quit_app())
    wake = QTimer()
    wake.start(500)
    wake.timeout.connect(lambda: None)
    try:
        return app.exec()
    finally:
        server.close()
        window.shutdown()
        session.shutdown()


if __name__ == "__main__":
    sys.exit(main())
