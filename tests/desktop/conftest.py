"""Fixtures for the desktop app's tests: offscreen Qt, temporary settings and store, contract models."""

from __future__ import annotations

import os
import zlib

# Before any Qt import: tests never open real windows or touch a real display.
os.environ["QT_QPA_PLATFORM"] = "offscreen"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from engine.contract import Thresholds  # noqa: E402

WAIT_MS = 20000


def write_image(path, brightness: int, size=(96, 64), seed: int | None = None, fmt: str | None = None):
    """A grey image with a little noise (so every file has its own sha256); the brightness
    model scores it from ``brightness``: >= ~190 likely AI, <= ~100 likely real, between uncertain."""
    rng = np.random.default_rng(seed if seed is not None else zlib.crc32(str(path).encode()))
    pixels = np.clip(rng.normal(brightness, 6, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, format=fmt)
    return path


@pytest.fixture(autouse=True)
def no_model_from_the_environment(monkeypatch):
    """A developer's own $SYNTHSPOT_MODEL must not leak into the "no model installed" tests."""
    monkeypatch.delenv("SYNTHSPOT_MODEL", raising=False)


@pytest.fixture(scope="session")
def model_path(tmp_path_factory):
    """A contract model with experts and an artifact map (see tests.fixtures.synthetic.brightness_model)."""
    from tests.fixtures.synthetic import brightness_model

    return brightness_model(tmp_path_factory.mktemp("models") / "brightness.onnx", crop_size=32,
                            experts=("reconstruct", "upsample"), artifact_map_cells=4,
                            thresholds=Thresholds(likely_ai=0.8, likely_real=0.3, fpr=0.01))


@pytest.fixture(scope="session")
def slow_model(tmp_path_factory):
    """A contract model with real convolutions, so a scan takes long enough to be interrupted."""
    from tests.fixtures.synthetic import brightness_model

    return brightness_model(tmp_path_factory.mktemp("slow") / "slow.onnx", crop_size=64, max_crops=8,
                            extra_conv_layers=4, conv_channels=48)


@pytest.fixture
def settings_path(tmp_path):
    return tmp_path / "settings" / "synthspot.ini"


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "data" / "results.sqlite3"


@pytest.fixture
def make_session(qapp, settings_path, store_path):
    """Build app sessions on the temporary settings file and store; all are shut down afterwards."""
    from desktop.session import AppSession
    from desktop.settings import AppSettings
    from engine.store import Store

    sessions = []

    def make(model=None, **settings):
        app_settings = AppSettings.open(settings_path)
        if model is not None:
            app_settings.model_path = str(model)
        for name, value in settings.items():
            setattr(app_settings, name, value)
        session = AppSession(app_settings, Store(store_path))
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.shutdown()


@pytest.fixture
def make_window(qtbot, make_session):
    """A started session and its main window, with the model loaded (when one is given)."""
    from desktop.scanning import LOADING
    from desktop.ui.main_window import MainWindow

    windows = []

    def make(model=None, **settings):
        session = make_session(model, **settings)
        window = MainWindow(session)
        # Closed at teardown as Quit closes it: a plain close while folders are watched and no tray exists
        # asks first, and no one is there to answer.
        qtbot.addWidget(window, before_close_func=lambda closing: setattr(closing, "_quitting", True))
        windows.append(window)
        session.start()
        window.show()
        qtbot.waitUntil(lambda: session.service.model_state.state != LOADING, timeout=WAIT_MS)
        return window

    yield make
    for window in windows:
        window.shutdown()


def wait_for_results(qtbot, window, count: int):
    """Wait until ``count`` rows hold a finished result."""
    qtbot.waitUntil(lambda: sum(row.result is not None and row.status == "done" for row in window.model.rows())
                    >= count, timeout=WAIT_MS)


def answer_message_box(press, seen: list | None = None):
    """Answer the next modal message box as a person would: its text (and its informative text, where it has
    one, on a line of its own) is added to ``seen``, then the button ``press`` is clicked (a standard button,
    or a button's text)."""
    def answer():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, answer)  # not open yet
            return
        if seen is not None:
            seen.append("\n".join(filter(None, [box.text(), box.informativeText()])))
        button = (next(b for b in box.buttons() if b.text() == press) if isinstance(press, str)
                  else box.button(press))
        button.click()

    QTimer.singleShot(0, answer)
