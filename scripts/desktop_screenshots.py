"""Screenshots of the desktop app with real results, for people reviewing the UI.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/desktop_screenshots.py [--out DIR]

    ... scripts/desktop_screenshots.py --model MODEL.onnx --image PHOTO [--image PHOTO ...] [--out DIR]

(or QT_QPA_PLATFORM=offscreen without Xvfb). With --model and --image it scans those photos with
that model in a throwaway store and saves the detail pane of each (verdict, expert mix, heatmap):
how a real model sees a real inpaint. Without them it builds a throwaway store,
settings file and a synthetic contract model with experts and an artifact map
(tests.fixtures.synthetic: it detects nothing; bright regions score as "AI"), scans a
few real photographs from scikit-image, some edited to light up the heatmap,
and saves PNGs: the main window with results, the detail pane with the heatmap,
the no-model banner and the settings dialog. Never touches the user's data.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_photos(folder: Path) -> dict[str, list[Path]]:
    """Real photos and edited copies, grouped by the source they will be scanned as."""
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    cat, coffee, astronaut, rocket = data.chelsea(), data.coffee(), data.astronaut(), data.rocket()
    camera = np.repeat(data.camera()[:, :, None], 3, axis=2)

    def save(name: str, pixels: np.ndarray, **options) -> Path:
        path = folder / name
        Image.fromarray(pixels.astype(np.uint8)).save(path, **options)
        return path

    inpainted = cat.astype(np.float64)  # a bright "inpainted" patch that the heatmap should find
    inpainted[60:220, 150:330] = np.clip(inpainted[60:220, 150:330] * 0.35 + 175, 0, 255)
    generated = np.clip(astronaut.astype(np.float64) * 0.45 + 150, 0, 255)
    parameters = PngImagePlugin.PngInfo()
    parameters.add_text("parameters", "an astronaut portrait, studio light\nSteps: 30, Sampler: DPM++ 2M, "
                                      "CFG scale: 7, Seed: 1234, Size: 512x512, Model: sdxl-base")
    exif = Image.Exif()
    exif[0x0131] = "Adobe Firefly"  # EXIF Software
    bright_coffee = np.clip(coffee.astype(np.float64) * 0.5 + 140, 0, 255)
    dropped = [
        save("cat-with-patch.png", inpainted),
        save("astronaut-portrait.png", generated, pnginfo=parameters),
        save("coffee-edit.jpg", bright_coffee, quality=92, exif=exif),
        save("rocket.jpg", rocket, quality=90),
        save("camera-man.jpg", camera, quality=90),
        save("cat.jpg", cat, quality=95),
    ]
    broken = folder / "download.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0" + bytes(300))
    dropped.append(broken)
    watched = [save("IMG_2231.jpg", np.clip(coffee.astype(np.float64) * 0.8, 0, 255), quality=40),
               save("holiday.png", np.clip(rocket.astype(np.float64) * 0.5 + 130, 0, 255))]
    return {"dropped": dropped, "watched": watched}


def wait_for(app, predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        app.processEvents()
        time.sleep(0.02)


def open_window(app, work: Path, model: Path, watched: list[str] = ()):
    """A session on a throwaway store and settings with ``model``, its window shown and the model loaded."""
    from tests.fixtures.windows import throwaway_window

    session, window = throwaway_window(work, model, watched)
    wait_for(app, lambda: session.service.model_state.ready)
    return session, window


def row_named(window, name: str) -> int:
    rows = range(window.proxy.rowCount())
    return next(i for i in rows if window.proxy.row_for(window.proxy.index(i, 0)).name == name)


def detail_shots(model: Path, images: list[Path], out: Path, work: Path) -> list[Path]:
    """The detail pane of each image as ``model`` scores it (heatmap on, crop boxes off)."""
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    session, window = open_window(app, work, model)
    session.service.submit_paths([str(p) for p in images], "dropped")
    wait_for(app, lambda: sum(row.status == "done" for row in window.model.rows()) == len(images), timeout=300)
    saved = []
    for image in images:
        window.select_proxy_row(row_named(window, image.name))
        wait_for(app, lambda: window.detail.image_view.image_rect() is not None)
        window.detail.crops_toggle.setChecked(False)
        app.processEvents()
        saved.append(out / f"detail-{image.stem}.png")
        window.detail.grab().save(str(saved[-1]))
    window.shutdown()
    session.shutdown()
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/work/screens"), help="where the PNGs go")
    parser.add_argument("--model", type=Path, help="with --image: this ONNX model's view of real photos")
    parser.add_argument("--image", type=Path, action="append", default=[], help="a photo to scan (repeatable)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="synthspot-screens-"))
    os.environ.pop("SYNTHSPOT_MODEL", None)
    if args.model or args.image:
        if not (args.model and args.image):
            parser.error("--model and --image go together")
        for path in detail_shots(args.model, args.image, args.out, work):
            print(path)
        return 0

    from PySide6.QtWidgets import QApplication

    from desktop.scanning import LOADING
    from desktop.session import AppSession
    from desktop.settings import AppSettings
    from desktop.ui.main_window import MainWindow
    from desktop.ui.settings_dialog import SettingsDialog
    from engine.store import Store
    from tests.fixtures.synthetic import brightness_model

    app = QApplication(sys.argv[:1])
    model = brightness_model(work / "demo-detector.onnx", crop_size=128, gain=9.0, max_crops=8,
                             experts=("reconstruct", "upsample", "inpaint"), artifact_map_cells=16,
                             name="demo-synthetic", version="0.1")
    photos = make_photos(work / "photos")
    saved = []

    # 1. No model installed yet: the banner. A checkout ships the embedded default, which the app would
    # load: hidden for this shot, as a build without it would be.
    from engine import models

    shipped_defaults, models.DEFAULTS_FILE = models.DEFAULTS_FILE, work / "no-default.json"
    settings = AppSettings.open(work / "empty.ini")
    session = AppSession(settings, Store(work / "empty.sqlite3"))
    window = MainWindow(session)
    session.start()
    window.resize(1280, 760)
    window.show()
    wait_for(app, lambda: session.service.model_state.state != LOADING)
    app.processEvents()
    saved.append(args.out / "desktop-no-model.png")
    window.grab().save(str(saved[-1]))
    window.shutdown()
    session.shutdown()
    window.close()
    models.DEFAULTS_FILE = shipped_defaults

    # 2. With a model and results.
    session, window = open_window(app, work, model, [str(Path.home() / "Downloads")])
    for source, paths in photos.items():
        session.service.submit_paths([str(p) for p in paths], source)
    total = sum(len(paths) for paths in photos.values())
    wait_for(app, lambda: sum(row.status == "done" for row in window.model.rows()) == total)
    wait_for(app, lambda: not session.service.busy)
    window.select_proxy_row(row_named(window, "cat-with-patch.png"))
    window.table.setFocus()
    wait_for(app, lambda: window.detail.image_view.image_rect() is not None)
    wait_for(app, lambda: all(window.thumbnails.get(row.path) is not None or window.thumbnails.failed(row.path)
                              for row in window.model.rows()))
    app.processEvents()
    saved.append(args.out / "desktop-results.png")
    window.grab().save(str(saved[-1]))

    # 3. The detail pane alone, heatmap on and crop boxes off, then the generated portrait.
    window.detail.crops_toggle.setChecked(False)
    app.processEvents()
    saved.append(args.out / "desktop-detail-heatmap.png")
    window.detail.grab().save(str(saved[-1]))
    window.detail.crops_toggle.setChecked(True)
    window.select_proxy_row(row_named(window, "astronaut-portrait.png"))
    wait_for(app, lambda: window.detail.image_view.image_rect() is not None)
    app.processEvents()
    saved.append(args.out / "desktop-detail-generated.png")
    window.detail.grab().save(str(saved[-1]))

    # 4. Settings, with the bridge switched on to show a pairing code.
    dialog = SettingsDialog(session, window)
    dialog.bridge_enabled.setChecked(True)
    dialog.show()
    app.processEvents()
    saved.append(args.out / "desktop-settings.png")
    dialog.grab().save(str(saved[-1]))
    dialog.close()

    # 5. Pair a browser after more requests than a person makes (a relay trying codes): the warning.
    from desktop.ui.pairing_dialog import PairingDialog
    from engine.bridge.client import BridgeClient
    from engine.bridge.pairing import MAX_ATTEMPTS_PER_WINDOW

    session.set_bridge_enabled(True)
    pairing = PairingDialog(session, window)
    pairing.show()
    relay = BridgeClient(session.settings.bridge_port)
    for index in range(MAX_ATTEMPTS_PER_WINDOW):
        relay.withdraw_pairing(relay.request_pairing(f"try {index}"))
    wait_for(app, lambda: session.bridge.pairing.suspended)
    app.processEvents()
    saved.append(args.out / "desktop-pairing-stopped.png")
    pairing.grab().save(str(saved[-1]))
    pairing.close()
    session.set_bridge_enabled(False)

    window.shutdown()
    session.shutdown()
    for path in saved:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
