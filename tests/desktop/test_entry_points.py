"""The app's entry point is imported by nothing: the self-test and the app share the window builder in desktop.ui."""

import ast
import os
from pathlib import Path

DESKTOP = Path(__file__).resolve().parents[2] / "desktop"


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_desktop_module_imports_the_app_entry_point():
    importers = [str(path.relative_to(DESKTOP.parent)) for path in sorted(DESKTOP.rglob("*.py"))
                 if path.name != "app.py" and "desktop.app" in imported_modules(path)]
    assert importers == []


def test_the_app_and_the_selftest_build_the_window_the_same_way():
    from desktop.ui.window import create_window

    assert "desktop.ui.window.create_window" in imported_modules(DESKTOP / "app.py")
    assert "desktop.ui.window.create_window" in imported_modules(DESKTOP / "selftest.py")
    assert callable(create_window)


def test_an_option_the_app_does_not_know_is_refused_not_a_silent_start(capsys):
    """`--version` and a mistyped `--selftst` used to open the window and never exit (a review of the
    installed app); Qt's own options still go on to Qt."""
    import pytest

    import engine
    from desktop.app import parse_arguments

    with pytest.raises(SystemExit) as refused:
        parse_arguments(["--selftst"])
    assert refused.value.code == 2 and "unrecognized arguments: --selftst" in capsys.readouterr().err
    with pytest.raises(SystemExit) as shown:
        parse_arguments(["--version"])
    assert shown.value.code == 0 and engine.__version__ in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parse_arguments(["--help"])
    assert "synthspot scan PATH" in capsys.readouterr().out  # where the window-less commands are
    args, qt = parse_arguments(["a.png", "-platform", "offscreen", "--style=Fusion", "--model", "m.onnx", "b.png",
                                "-stylesheet", "s.qss", "-reverse"])
    # An option's value is not a path to scan, and a path after --model is not handed to Qt (a reread).
    assert args.paths == ["a.png", "b.png"] and args.model == "m.onnx"
    assert qt == ["-platform", "offscreen", "--style=Fusion", "-stylesheet", "s.qss", "-reverse"]


def test_relative_paths_from_a_deleted_folder_are_left_out_with_a_word_not_a_crash(tmp_path, capsys):
    """Started from a folder since deleted (a review: FileNotFoundError in the window); absolute paths stay."""
    from desktop.app import absolute_paths

    gone = tmp_path / "gone"
    gone.mkdir()
    here = os.getcwd()
    os.chdir(gone)
    try:
        assert absolute_paths(["x.png", "../y.png"]) == [str(gone / "x.png"), str(tmp_path / "y.png")]
        gone.rmdir()
        assert absolute_paths(["x.png", str(tmp_path / "z.png")]) == [str(tmp_path / "z.png")]
    finally:
        os.chdir(here)
    assert "current folder no longer exists" in capsys.readouterr().err
