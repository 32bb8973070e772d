"""``synthspot-app --selftest``: check that this installation works, and say what was checked.

Runs the same code paths as the app, frozen (PyInstaller) or not: the native
libraries the engine loads, the Qt platform plugin and the main window, the
model (by the same lookup as the app: ``--model``/``SYNTHSPOT_MODEL``, else the
embedded default), a scan of the bundled sample images on the provider the
model runs on, and the browser bridge started and stopped on a free port.
Nothing touches the user's data: the store and settings live in a temp folder.

The report goes to stdout, or to ``synthspot-selftest.txt`` in the current folder
when there is none (a windowed build). Exit status: 0 when every check ran and
passed; 1 when a check failed; 3 when every check that ran passed but some could
not run (no model in this build), so a build without a model is never mistaken
for a fully checked one.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, cast
from collections.abc import Callable

import engine

if TYPE_CHECKING:  # imported where used: the self-test reports an import failure as a failed check
    from engine.model import Detector
    from engine.scanner import Scanner

PASSED, FAILED, NOT_CHECKED = "PASS", "FAIL", "NOT CHECKED"
EXIT_OK, EXIT_FAILED, EXIT_INCOMPLETE = 0, 1, 3
SAMPLES_DIR = Path(engine.__file__).resolve().parent / "samples"
WINDOW_TIMEOUT_S = 60.0


class NotChecked(Exception):
    """A check that could not run here (not a failure of what it would check)."""


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str
    detail: str


def sample_images() -> list[Path]:
    if not SAMPLES_DIR.is_dir():
        return []
    return sorted(path for path in SAMPLES_DIR.iterdir() if path.suffix.lower() != ".md")


def check_runtime() -> str:
    import onnxruntime as ort

    from engine.model import available_providers

    frozen = "frozen (PyInstaller)" if getattr(sys, "frozen", False) else "not frozen"
    return (f"SynthSpot {engine.__version__}, Python {sys.version.split()[0]}, {frozen}; onnxruntime "
            f"{ort.__version__} providers: {', '.join(available_providers())}")


def check_c2pa() -> str:
    import c2pa  # loads the native libc2pa_c at import time; sdk_version() calls into it

    return f"c2pa-python native library loaded (c2pa-rs {c2pa.sdk_version()})"


def check_heif() -> str:
    import pi_heif

    from engine.decode import decode_image

    heif = [path for path in sample_images() if path.suffix.lower() in (".heic", ".heif")]
    if not heif:
        raise NotChecked(f"no HEIF sample in {SAMPLES_DIR}")
    image = decode_image(heif[0].read_bytes())
    return (f"pi-heif {pi_heif.__version__} (libheif {pi_heif.libheif_version()}) decoded {heif[0].name} "
            f"({image.width}x{image.height})")


def check_colour() -> str:
    from PIL import Image, ImageCms, features

    from desktop.thumbnails import in_srgb

    # A photo tagged sRGB goes through littlecms as a phone's Display P3 one would: a build without it
    # (or its native library) shows profiled photos raw, silently.
    image = Image.new("RGB", (4, 4), (200, 100, 50))
    image.info["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    if in_srgb(image) is image:
        raise RuntimeError("littlecms did not convert a colour-profiled image to sRGB")
    return f"littlecms {features.version('littlecms2')} shows colour-profiled images in sRGB"


def find_model_path() -> Path:
    from engine.models import NoModelError, default_model_path

    try:
        return default_model_path("cpu")
    except NoModelError as exc:
        raise NotChecked(f"no model in this build and none named: {exc}") from None


class ModelChecks:
    """Model load, sample scan and bridge share one detector, scanner and temp store."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.detector: Detector | None = None
        self.scanner: Scanner | None = None
        from engine.store import Store

        self.store = Store(workdir / "selftest.db")

    def load_model(self) -> str:
        from engine.model import Detector

        path = find_model_path()
        self.detector = detector = Detector(path, provider="auto")
        meta = detector.metadata
        return f"{meta.name} {meta.version} ({path.name}, crop {meta.crop_size}) on {detector.active_provider}"

    def scan_samples(self) -> str:
        from engine.scanner import ScanRequest, Scanner

        if self.detector is None:
            raise NotChecked("no model loaded")
        samples = sample_images()
        if not samples:
            raise RuntimeError(f"no sample images in {SAMPLES_DIR}")
        self.scanner = Scanner(self.detector, self.store, workers=1)
        results = self.scanner.scan([ScanRequest(path=str(path), source="cli") for path in samples], timeout=120)
        failed = [f"{Path(r.path).name}: {r.error}" for r in results if not r.ok]
        if failed:
            raise RuntimeError("; ".join(failed))
        scores = ", ".join(f"{Path(r.path).name} {r.format} p={r.probability:.2f}" for r in results)
        return f"{len(results)} images on {results[0].provider}: {scores}"

    def bridge(self) -> str:
        from engine.bridge import BridgeServer

        server = BridgeServer(self.scanner, self.store, port=0).start()  # port 0: the system picks a free one
        port = server.port
        try:
            with urllib.request.urlopen(f"{server.url}/v1/status", timeout=10) as response:
                status = json.loads(response.read())
        finally:
            server.stop()
        if status.get("app") != "SynthSpot":
            raise RuntimeError(f"unexpected status answer: {status}")
        if server.running:
            raise RuntimeError("the bridge still runs after stop()")
        return f"started on 127.0.0.1:{port}, /v1/status answered (API {status.get('api')}), stopped"

    def close(self) -> None:
        if self.scanner is not None:
            self.scanner.close()


def check_window(workdir: Path) -> str:
    """The real main window over a throwaway session; waits until the model has loaded (or said it cannot)."""
    from PySide6.QtCore import QCoreApplication, QEventLoop
    from PySide6.QtWidgets import QApplication

    from desktop.scanning import LOADING
    from desktop.session import AppSession
    from desktop.settings import AppSettings
    from desktop.ui.window import create_window
    from engine.store import Store

    app = cast(QApplication, QApplication.instance() or QApplication([sys.argv[0]]))
    session = AppSession(AppSettings.open(workdir / "settings.ini"), store=Store(workdir / "window.db"))
    window = create_window(session)
    try:
        session.start()
        window.show()
        deadline = time.monotonic() + WINDOW_TIMEOUT_S
        while session.service.model_state.state == LOADING and time.monotonic() < deadline:
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)
        if not window.isVisible():
            raise RuntimeError("the main window did not show")
        state = session.service.model_state.state
        if state == LOADING:
            raise RuntimeError(f"the model was still loading after {WINDOW_TIMEOUT_S:.0f} s")
        return (f"main window shown on Qt platform '{app.platformName()}' ({window.width()}x{window.height()}), "
                f"model state: {state}")
    finally:
        window.close()
        window.shutdown()
        session.shutdown()


def run_checks(checks: list[tuple[str, Callable[[], str]]], out: TextIO) -> list[Outcome]:
    outcomes = []
    for name, check in checks:
        try:
            outcome = Outcome(name, PASSED, check())
        except NotChecked as exc:
            outcome = Outcome(name, NOT_CHECKED, str(exc))
        except Exception as exc:  # every failure is reported, and the other checks still run
            outcome = Outcome(name, FAILED, f"{type(exc).__name__}: {exc}")
        outcomes.append(outcome)
        print(f"{outcome.status:<11} {name}: {outcome.detail}", file=out, flush=True)
    return outcomes


def exit_status(outcomes: list[Outcome]) -> int:
    statuses = {outcome.status for outcome in outcomes}
    if FAILED in statuses:
        return EXIT_FAILED
    return EXIT_INCOMPLETE if NOT_CHECKED in statuses else EXIT_OK


REPORT_FILE = "synthspot-selftest.txt"


def run_selftest(out: TextIO | None = None) -> int:
    if out is None and sys.stdout is None:  # a windowed executable (Windows, macOS) has no stdout
        with open(REPORT_FILE, "w", encoding="utf-8") as report:
            return run_selftest(report)
    out = out or sys.stdout
    print("SynthSpot self-test", file=out, flush=True)
    with tempfile.TemporaryDirectory(prefix="synthspot-selftest-") as tmp:
        workdir = Path(tmp)
        model = ModelChecks(workdir)
        try:
            outcomes = run_checks([
                ("runtime", check_runtime),
                ("c2pa", check_c2pa),
                ("heif", check_heif),
                ("colour", check_colour),
                ("model", model.load_model),
                ("scan", model.scan_samples),
                ("bridge", model.bridge),
                ("window", lambda: check_window(workdir)),
            ], out)
        finally:
            model.close()
    status = exit_status(outcomes)
    summary = {EXIT_OK: "all checks passed", EXIT_FAILED: "FAILED",
               EXIT_INCOMPLETE: "passed what it could check, but NOT everything was checked (see above)"}[status]
    print(f"self-test: {summary}", file=out, flush=True)
    return status
