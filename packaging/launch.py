"""PyInstaller's entry script for the frozen app: the same ``desktop.app:main`` as ``synthspot-app``, and
from a terminal the same command line as ``synthspot`` (``synthspot scan|serve|models ...``), so the bundle
scans from scripts too.

A bundle missing a part (a library deleted, a damaged unpack) fails on import, before the app has a
window; started from a menu, a traceback on stderr is seen by nobody. It is said in a message box where
Qt itself still loads, and always on stderr, with the way out: unpack SynthSpot again.
"""

import os
import sys
import traceback

# engine.cli's commands. A file or folder of that name in the current folder is still opened in the app.
COMMANDS = ("scan", "serve", "models")


def wants_command_line(argv: list[str]) -> bool:
    """A command word among the arguments (first, as `synthspot scan x`, or after an option, where the
    command line then says how to write it) and not a path here. Only where the bundle has a terminal:
    the Windows and macOS builds are windowed, and their output would go nowhere."""
    if sys.platform in ("win32", "darwin"):
        return False
    return any(word in COMMANDS and not os.path.exists(word) for word in argv[1:])


def tell_broken_installation(error: BaseException, window: bool = True) -> None:
    text = (f"SynthSpot cannot start: part of this installation is missing or damaged ({error}).\n\n"
            "Unpack SynthSpot again from its archive; `synthspot --selftest` then checks every part.")
    print(text, file=sys.stderr)
    traceback.print_exception(error, file=sys.stderr)
    if not window:  # the command line: its terminal is where this is read
        return
    try:
        from PySide6.QtWidgets import QApplication, QMessageBox

        app = QApplication.instance() or QApplication(sys.argv[:1])
        QMessageBox.critical(None, "SynthSpot cannot start", text)
        del app
    except Exception:  # Qt is the broken part: stderr is all there is
        pass


def can_show_boxes(argv: list[str], environ) -> bool:
    """Whether a message box has someone to close it: not under --selftest (a script, the build's check) nor on
    Qt's screenless platforms, where a box opened for a broken install kept the process alive for ever."""
    return "--selftest" not in argv and environ.get("QT_QPA_PLATFORM", "").split(":")[0] not in ("offscreen", "minimal")


def display_problem(environ, platform_plugins: str) -> str:
    """"" where the window can open (and, on a Wayland desktop whose Qt plugin the bundle leaves out, Qt is
    sent to XWayland at once: it warned of the missing plugin at every start); else, in words, why not: with
    no display at all Qt aborted, blaming a library the bundle has."""
    if environ.get("QT_QPA_PLATFORM") or sys.platform in ("win32", "darwin"):
        return ""
    wayland, x11 = bool(environ.get("WAYLAND_DISPLAY")), bool(environ.get("DISPLAY"))
    if not (wayland or x11):
        return ("SynthSpot's window needs a graphical desktop, and none was found (neither DISPLAY nor "
                "WAYLAND_DISPLAY is set). Start it from your desktop, or scan from this terminal: "
                "synthspot scan FILE_OR_FOLDER (a check of the installation without a desktop: "
                "QT_QPA_PLATFORM=offscreen synthspot --selftest).")
    has_wayland_plugin = os.path.isdir(platform_plugins) and any(
        name.startswith("libqwayland") for name in os.listdir(platform_plugins))
    if wayland and x11 and not has_wayland_plugin:
        environ["QT_QPA_PLATFORM"] = "xcb"
    return ""


def platform_plugins_folder() -> str:
    import PySide6  # the package alone: no Qt library is loaded yet

    return os.path.join(os.path.dirname(PySide6.__file__), "Qt", "plugins", "platforms")


if __name__ == "__main__":
    if wants_command_line(sys.argv):
        try:
            from engine.cli import main as command_line
        except (ImportError, OSError) as error:
            tell_broken_installation(error, window=False)
            sys.exit(2)  # as the command line's other failures to start (exit 1: results not written)
        sys.exit(command_line(sys.argv[1:]))
    try:
        problem = display_problem(os.environ, platform_plugins_folder())
        from desktop.app import main
    except (ImportError, OSError) as error:
        tell_broken_installation(error, window=can_show_boxes(sys.argv, os.environ))
        sys.exit(1)
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(1)
    sys.exit(main())
