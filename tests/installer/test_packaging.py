"""The installer's inputs: the app's requirements, the menu entry and its install script."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"


def requirement_lines(text: str) -> list[str]:
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def test_app_requirements_equal_the_projects_dependencies_and_hold_nothing_from_training():
    listed = {str(Requirement(line)) for line in requirement_lines((PACKAGING / "requirements-app.txt").read_text())}
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert listed == {str(Requirement(line)) for line in project["dependencies"]}
    names = {Requirement(line).name.lower() for line in listed}
    assert not names & {"torch", "onnx", "scikit-image", "safetensors"}


def test_desktop_entry_names_the_executable_and_an_icon():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive in .desktop files
    entry.read(PACKAGING / "synthspot.desktop")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application" and section["Terminal"] == "false"
    assert section["Exec"] == "synthspot %F" and section["Icon"] == "synthspot"
    assert "image/jpeg" in section["MimeType"] and section["Categories"].endswith(";")
    from PIL import Image

    with Image.open(PACKAGING / "synthspot.png") as icon:
        assert icon.size == (256, 256) and icon.mode == "RGBA"


def test_install_script_points_the_menu_entry_at_the_unpacked_folder(tmp_path):
    bundle = tmp_path / "Unpacked SynthSpot"  # a space: the Exec path must be quoted
    bundle.mkdir()
    for name in ("synthspot.desktop", "synthspot.png", "install-desktop-entry.sh"):
        shutil.copy2(PACKAGING / name, bundle / name)
    data = tmp_path / "share"
    done = subprocess.run(["sh", str(bundle / "install-desktop-entry.sh")], capture_output=True, text=True,
                          env={**os.environ, "XDG_DATA_HOME": str(data)}, timeout=30)
    assert done.returncode == 0, done.stderr
    installed = (data / "applications" / "synthspot.desktop").read_text()
    assert f'Exec="{bundle}/synthspot" %F' in installed
    assert f"TryExec={bundle}/synthspot" in installed
    assert (data / "icons/hicolor/256x256/apps/synthspot.png").read_bytes() == (PACKAGING / "synthspot.png").read_bytes()


@pytest.mark.skipif(shutil.which("gio") is None, reason="needs GLib's gio to launch the entry as a menu would")
@pytest.mark.parametrize("folder", ["Tom & Jerry", "a|b", 'say "hi"', "cost $HOME", "back\\slash", "q`x`"])
def test_the_menu_entry_launches_from_a_folder_whatever_its_name(tmp_path, folder):
    """A bare sed substitution broke the entry on '&', failed on '|' (leaving an empty file) and dropped
    backslashes (a review); GLib's own launcher must now find the executable and hand it the file."""
    bundle = tmp_path / folder
    bundle.mkdir()
    for name in ("synthspot.desktop", "synthspot.png", "install-desktop-entry.sh"):
        shutil.copy2(PACKAGING / name, bundle / name)
    ran = tmp_path / "ran.txt"
    (bundle / "synthspot").write_text(f'#!/bin/sh\nprintf "%s\\n" "$0" "$@" > "{ran}"\n')
    (bundle / "synthspot").chmod(0o755)
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "share")}
    done = subprocess.run(["sh", str(bundle / "install-desktop-entry.sh")], capture_output=True, text=True,
                          env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    entry = tmp_path / "share" / "applications" / "synthspot.desktop"
    subprocess.run(["gio", "launch", str(entry), str(tmp_path / "a photo.png")], env=env, timeout=30, check=True)
    deadline = time.monotonic() + 10
    while not ran.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    assert ran.read_text().splitlines() == [str(bundle / "synthspot"), str(tmp_path / "a photo.png")]
    undone = subprocess.run(["sh", str(bundle / "install-desktop-entry.sh"), "--uninstall"], capture_output=True,
                            text=True, env=env, timeout=30)
    assert undone.returncode == 0 and not entry.exists()


def test_build_constraints_pin_versions_the_app_requirements_accept():
    pins = {Requirement(line).name.lower().replace("_", "-"): Requirement(line)
            for line in requirement_lines((PACKAGING / "constraints-app.txt").read_text())}
    assert all(str(pin.specifier).startswith("==") for pin in pins.values())
    assert not set(pins) & {"torch", "onnx", "scikit-image", "safetensors"}
    for line in requirement_lines((PACKAGING / "requirements-app.txt").read_text()):
        wanted = Requirement(line)
        pinned = pins[wanted.name.lower().replace("_", "-")]
        assert wanted.specifier.contains(str(pinned.specifier).removeprefix("=="), prereleases=True), (wanted, pinned)


def test_a_bundle_missing_a_part_says_so_instead_of_a_bare_traceback(tmp_path):
    """Without onnxruntime's extension module the frozen app died with a traceback nobody sees when it is
    started from a menu (a review); the launcher says what is wrong and what to do (its message box then
    waits for a click: the process is stopped once the words are out)."""
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['onnxruntime'] = None  # 'not installed'\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{PACKAGING.parent}", "QT_QPA_PLATFORM": "offscreen"}
    launcher = subprocess.Popen([sys.executable, str(PACKAGING / "launch.py")], env=env, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _out, err = launcher.communicate(timeout=8)
    except subprocess.TimeoutExpired:
        launcher.kill()
        _out, err = launcher.communicate()
    assert "SynthSpot cannot start: part of this installation is missing or damaged" in err
    assert "Unpack SynthSpot again" in err


def test_a_self_test_of_a_broken_bundle_without_a_screen_ends_instead_of_waiting_for_a_click(tmp_path):
    """Under Qt's offscreen platform (the build's own check, a script) the broken-installation box had nobody
    to close it: `--selftest`, which the message itself recommends, never returned."""
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['onnxruntime'] = None  # 'not installed'\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{PACKAGING.parent}", "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, str(PACKAGING / "launch.py"), "--selftest"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "part of this installation is missing or damaged" in done.stderr


def test_without_a_display_the_app_says_so_in_a_line(tmp_path):
    """With neither DISPLAY nor WAYLAND_DISPLAY (an SSH session) Qt aborted (exit 134), blaming xcb-cursor0,
    which the bundle has."""
    env = {name: value for name, value in os.environ.items()
           if name not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(PACKAGING.parent)
    done = subprocess.run([sys.executable, str(PACKAGING / "launch.py")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "needs a graphical desktop" in done.stderr and "synthspot scan" in done.stderr
    assert "Traceback" not in done.stderr


def test_on_wayland_without_the_bundles_wayland_plugin_qt_goes_to_xwayland(tmp_path):
    """Every start on a Wayland desktop warned that the "wayland" plugin could not be found (it is left out)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("synthspot_launch", PACKAGING / "launch.py")
    launch = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launch)
    plugins = tmp_path / "platforms"
    plugins.mkdir()
    (plugins / "libqxcb.so").touch()
    desktop = {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}
    assert launch.display_problem(desktop, str(plugins)) == "" and desktop["QT_QPA_PLATFORM"] == "xcb"
    (plugins / "libqwayland-generic.so").touch()
    with_plugin = {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}
    assert launch.display_problem(with_plugin, str(plugins)) == "" and "QT_QPA_PLATFORM" not in with_plugin
    chosen = {"WAYLAND_DISPLAY": "wayland-0", "QT_QPA_PLATFORM": "wayland"}  # the person's own choice stays
    assert launch.display_problem(chosen, str(plugins)) == "" and chosen["QT_QPA_PLATFORM"] == "wayland"


def test_the_bundles_executable_is_also_the_command_line(tmp_path, brightness_model_path, monkeypatch):
    """`synthspot scan …` from a terminal runs the engine's command line, as the pip install's `synthspot`
    does (the bundle had the app only); a file named like a command is still a path for the app."""
    from PIL import Image

    image = tmp_path / "photo.png"
    Image.new("RGB", (160, 120), (200, 120, 40)).save(image)
    env = {**os.environ, "PYTHONPATH": str(PACKAGING.parent), "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, str(PACKAGING / "launch.py"), "scan", "--json", "--no-cache", "--model",
                           str(brightness_model_path), str(image)], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (row,) = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert row["path"] == str(image) and row["verdict"] in ("likely_ai", "uncertain", "likely_real")
    assert subprocess.run([sys.executable, str(PACKAGING / "launch.py"), "models"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120).returncode == 0

    sys.path.insert(0, str(PACKAGING))
    try:
        from launch import wants_command_line
    finally:
        sys.path.remove(str(PACKAGING))
    assert wants_command_line(["synthspot", "scan", "x.png"]) and not wants_command_line(["synthspot", "x.png"])
    # After an option too: the command line then says how to write it, rather than the app opening "scan"
    assert wants_command_line(["synthspot", "--model", "m.onnx", "scan", "x.png"])
    misplaced = subprocess.run([sys.executable, str(PACKAGING / "launch.py"), "--model", "m.onnx", "scan", "x.png"],
                               env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert misplaced.returncode == 2 and "options go after the command, as in: synthspot scan" in misplaced.stderr
    # A damaged bundle says so on the terminal, with the command line's exit status for failing to start.
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['engine.cli'] = None\n")
    broken = subprocess.run([sys.executable, str(PACKAGING / "launch.py"), "models"], cwd=tmp_path,
                            env={**env, "PYTHONPATH": f"{tmp_path}{os.pathsep}{PACKAGING.parent}"},
                            capture_output=True, text=True, timeout=120)
    assert broken.returncode == 2 and "part of this installation is missing or damaged" in broken.stderr
    (tmp_path / "scan").mkdir()
    monkeypatch.chdir(tmp_path)
    assert not wants_command_line(["synthspot", "scan"])  # the folder named "scan" is opened in the app
