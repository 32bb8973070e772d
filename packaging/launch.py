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
    return len(argv) > 1 and argv[1] in COMMANDS and not os.path.exists(argv[1])


def tell_broken_installation(error: BaseException) -> None:
    text = (f"SynthSpot cannot start: part of this installation is missing or damaged ({error}).\n\n"
            "Unpack SynthSpot again from its archive; `synthspot --selftest` then checks every part.")
    print(text, file=sys.stderr)
    traceback.print_exception(error, file=sys.stderr)
    try:
        from PySide6.QtWidgets import QApplication, QMessageBox

        app = QApplication.instance() or QApplication(sys.argv[:1])
        QMessageBox.critical(None, "SynthSpot cannot start", text)
        del app
    except Exception:  # Qt is the broken part: stderr is all there is
        pass


if __name__ == "__main__":
    if wants_command_line(sys.argv):
        from engine.cli import main as command_line

        sys.exit(command_line(sys.argv[1:]))
    try:
        from desktop.app import main
    except (ImportError, OSError) as error:
        tell_broken_installation(error)
        sys.exit(1)
    sys.exit(main())
