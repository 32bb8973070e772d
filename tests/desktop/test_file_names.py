"""A file name that is not valid UTF-8 (Latin-1, from an old archive or a USB stick) reaches the app intact by
every route: Linux names are bytes, and Python holds the odd ones as lone surrogates, which a Qt string drops."""

from __future__ import annotations

import os
import sys

import pytest
from PySide6.QtCore import QMimeData, QUrl

from desktop.thumbnails import ImageCache
from desktop.ui.clipboard import take_mime
from tests.desktop.conftest import WAIT_MS, write_image
from tests.desktop.test_single_instance import launch_beside

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Windows names are UTF-16, never bytes")


@pytest.fixture
def latin1_photo(tmp_path):
    name = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.png")
    write_image(name, 60, seed=1)
    assert "\udce9" in name
    return name


def test_a_dropped_file_with_a_latin1_name_is_that_file(latin1_photo, qapp):
    """A file manager drops file:///.../caf%E9.png; toLocalFile() made it "caf\ufffd.png", an error row saying
    the file did not exist, kept in the history."""
    dropped = QMimeData()
    dropped.setUrls([QUrl.fromEncoded(b"file://" + os.fsencode(latin1_photo).replace(b"\xe9", b"%E9"))])
    assert take_mime(dropped, "dropped", lambda how, suffix: None).paths == [latin1_photo]


def test_its_thumbnail_arrives_under_its_own_name(latin1_photo, qtbot):
    """The decoded picture came back through a Qt string signal as "caf.png": the list's thumbnail and the
    detail pane's picture stayed "Loading..." for ever."""
    cache = ImageCache(48)
    ready: list[str] = []
    cache.imageReady.connect(ready.append)
    assert cache.get(latin1_photo) is None  # queued
    qtbot.waitUntil(lambda: bool(ready), timeout=WAIT_MS)
    assert ready == [latin1_photo] and cache.get(latin1_photo) is not None
    cache.stop()


def test_a_second_launch_hands_over_its_exact_name(latin1_photo, tmp_path, qtbot, model_path, make_window,
                                                   store_path, settings_path):
    """"Open with SynthSpot" on such a file, with the app already open: the open window got "caf.png", and a
    row saying the file did not exist."""
    window = make_window(model_path)
    launch_beside(window, qtbot, model_path, store_path, settings_path, os.fsencode(latin1_photo), tmp_path)
    qtbot.waitUntil(lambda: any(row.status == "done" for row in window.model.rows()), timeout=WAIT_MS)
    (row,) = window.model.rows()
    assert row.path == latin1_photo and row.result.error is None
