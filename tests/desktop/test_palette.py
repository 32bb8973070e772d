"""Every colour but the verdicts' comes from the palette: text stays readable under a dark theme."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage, QPalette

from desktop.ui.style import contrast_ratio
from tests.desktop.conftest import WAIT_MS

UI = Path(__file__).resolve().parents[2] / "desktop" / "ui"
COLOUR_LITERAL = re.compile(r"""["'(:\s]#(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b""")


def test_no_colour_literals_in_the_ui_outside_the_style_module():
    found = {path.name: COLOUR_LITERAL.findall(path.read_text(encoding="utf-8"))
             for path in UI.glob("*.py") if path.name != "style.py"}
    assert {name: hits for name, hits in found.items() if hits} == {}


def palette(dark: bool) -> QPalette:
    roles = QPalette.ColorRole
    if not dark:
        colours = {roles.Window: "#efefef", roles.WindowText: "#000000", roles.Base: "#ffffff",
                   roles.AlternateBase: "#f5f5f5", roles.Text: "#000000", roles.Button: "#efefef",
                   roles.ButtonText: "#000000"}
    else:  # as a dark desktop theme (GNOME's Adwaita dark, KDE's Breeze dark) hands them over
        colours = {roles.Window: "#202020", roles.WindowText: "#e8e8e8", roles.Base: "#141414",
                   roles.AlternateBase: "#1c1c1c", roles.Text: "#e8e8e8", roles.Button: "#2c2c2c",
                   roles.ButtonText: "#e8e8e8"}
    result = QPalette()
    for role, colour in colours.items():
        result.setColor(role, QColor(colour))
    return result


def ink_contrast(image: QImage) -> float:
    """Contrast between the commonest colour (the ground) and the colour that stands out most from it
    (the fully covered pixels of the text), as a person sees them on screen."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    pixels = pixels[:, :image.width() * 3].reshape(-1, 3)
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    ground = QColor(*map(int, colours[counts.argmax()]))
    return max(contrast_ratio(ground, QColor(*map(int, colour))) for colour in colours)


@pytest.fixture
def app_palette(qapp):
    original = QPalette(qapp.palette())
    yield lambda dark: qapp.setPalette(palette(dark))
    qapp.setPalette(original)


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_detail_hints_and_banners_are_readable_in_light_and_dark_palettes(
        dark, qtbot, model_path, make_window, app_palette):
    window = make_window(model_path)
    app_palette(dark)  # switched while the window is open, as a desktop theme switch does
    qtbot.wait(50)  # the window restyles once the change is complete
    window.detail.show_row(None)  # the hint in the detail pane's secondary colour, nothing else
    hint = window.detail.info.viewport().grab().toImage()
    assert ink_contrast(hint) >= 4.5
    window.alert_banner.alert("Likely AI-generated image", "generated.png in Downloads (97%)")
    window.banner.label.setText("No detector model is installed.")
    window.banner.show()
    qtbot.waitUntil(lambda: window.alert_banner.isVisible() and window.banner.isVisible(), timeout=WAIT_MS)
    for banner in (window.alert_banner, window.banner):
        label = banner.grab(banner.label.geometry()).toImage()
        assert ink_contrast(label) >= 4.5, banner.objectName()
    ground = window.alert_banner.grab().toImage().pixelColor(4, 4)
    window_colour = window.palette().color(QPalette.ColorRole.Window)
    assert (ground.lightness() < 100) == dark and (window_colour.lightness() < 100) == dark  # not a light patch


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_links_in_the_detail_text_are_readable_in_light_and_dark_palettes(dark, qtbot, app_palette):
    from PySide6.QtWidgets import QApplication, QTextBrowser

    from desktop.ui.style import rich_text_css

    app_palette(dark)  # a dark theme whose palette keeps Qt's default link blue (2.3:1 on near-black)
    browser = QTextBrowser()
    qtbot.addWidget(browser)
    browser.document().setDefaultStyleSheet(rich_text_css(QApplication.palette()))
    browser.setHtml("<p><a href='crop:0'>MMMMMMMMMM 97%</a></p>")
    browser.resize(300, 60)
    browser.show()
    assert ink_contrast(browser.viewport().grab().toImage()) >= 4.5
