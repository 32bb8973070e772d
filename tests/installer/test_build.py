"""The whole installer build, end to end: clean venv, PyInstaller, frozen self-test and scan, archive (slow, minutes)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "dist"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_build_script_builds_a_self_testing_bundle_without_training_code():
    done = subprocess.run(["bash", str(REPO / "scripts" / "build_installer.sh")], cwd=REPO,
                          capture_output=True, text=True, timeout=1700)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "self-test: all checks passed" in output  # the embedded model, or a contract test model

    archives = sorted(DIST.glob("SynthSpot-*-linux-*.tar.gz"), key=lambda path: path.stat().st_mtime)
    archive = archives[-1]
    recorded = (archive.parent / (archive.name + ".sha256")).read_text().split()[0]
    assert recorded == hashlib.sha256(archive.read_bytes()).hexdigest()

    with tarfile.open(archive) as tar:
        names = tar.getnames()
        links = {member.name: member.linkname for member in tar.getmembers() if member.issym()}
    # Every link leads somewhere (six pointed at Qt libraries the build had dropped, a review found).
    for name, target in links.items():
        assert os.path.normpath(os.path.join(os.path.dirname(name), target)) in names, (name, target)
    # The licences travel with what they cover: SynthSpot's, and each bundled distribution's.
    assert "SynthSpot/LICENSE" in names
    licences = {Path(name).parts[3] for name in names if name.startswith("SynthSpot/_internal/licenses/")
                and name.count("/") >= 4}
    assert {"onnxruntime", "numpy", "pillow", "python"} <= {name.lower() for name in licences}, licences
    assert any(name.startswith("SynthSpot/_internal/licenses/onnxruntime/") and name.endswith("ThirdPartyNotices.txt")
               for name in names)
    numpy_texts = [name for name in names if name.startswith("SynthSpot/_internal/licenses/numpy/")
                   and not name.endswith("DECLARED.txt")]
    assert len(numpy_texts) > 4, numpy_texts  # same-named files kept apart, not written over one another
    if Path("/usr/share/common-licenses/LGPL-3").is_file():  # Qt's wheels carry no licence text of their own
        assert "SynthSpot/_internal/licenses/PySide6_Essentials/LGPL-3.txt" in names
    if Path("/usr/share/common-licenses/Apache-2.0").is_file():  # nor c2pa-python's ("MIT OR Apache-2.0")
        assert "SynthSpot/_internal/licenses/c2pa-python/Apache-2.0.txt" in names
    # The system libraries copied from the build machine (xcb, glib, OpenSSL...): their packages' copyright files.
    assert "SynthSpot/_internal/licenses/system/LIBRARIES.txt" in names
    if shutil.which("dpkg"):  # Debian's packaging: one copyright file per package the libraries came from
        copyrights = [name for name in names if name.startswith("SynthSpot/_internal/licenses/system/")
                      and name.endswith("/copyright")]
        assert len(copyrights) >= 10 and "SynthSpot/_internal/licenses/system/libx11-6/copyright" in names, copyrights
    internal = {Path(name).parts[2] for name in names if name.startswith("SynthSpot/_internal/") and name.count("/") >= 2}
    assert "SynthSpot/synthspot" in names and "SynthSpot/synthspot.desktop" in names
    assert not internal & {"torch", "training", "export", "onnx", "skimage", "scipy"}
    assert {"engine", "onnxruntime", "c2pa", "PySide6"} <= internal
    assert "SynthSpot/_internal/c2pa/libs/libc2pa_c.so" in names
    assert any(name.startswith("SynthSpot/_internal/engine/samples/") for name in names)
    qt_plugins = {name.split("/plugins/")[1] for name in names if "/PySide6/Qt/plugins/" in name}
    assert {"platforms/libqxcb.so", "platforms/libqoffscreen.so"} <= qt_plugins
    assert not any(plugin.startswith(("imageformats/", "qml", "platformthemes/")) for plugin in qt_plugins)
    assert not any("/translations/" in name or "WebEngine" in name or "libQt6Qml" in name for name in names)
