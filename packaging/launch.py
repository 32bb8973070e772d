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


if __name__ == "__main__":
    if wants_command_line(sys.argv):
        try:
            from engine.cli import main as command_line
        except (ImportError, OSError) as error:
            tell_broken_installation(error, window=False)
            sys.exit(2)  # as the command line's other failures to start (exit 1: results not written)
        sys.exit(command_line(sys.argv[1:]))
    try:
        from desktop.app import main
    except (ImportError, OSError) as error:
        tell_broken_installation(error)
        sys.exit(1)
    sys.exit(main())
