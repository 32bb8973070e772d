"""PyInstaller's entry script for the frozen app: the same ``desktop.app:main`` as ``synthspot-app``."""

import sys

from desktop.app import main

if __name__ == "__main__":
    sys.exit(main())
