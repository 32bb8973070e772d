"""``python -m engine``: the ``synthspot`` command, for where its script is not on PATH."""

import sys

from engine.cli import main

if __name__ == "__main__":
    sys.exit(main())
