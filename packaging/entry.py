"""PyInstaller entry point of the frozen app: the same `main` as the `jscope-desktop` script."""

import multiprocessing
import sys

from jscope_desktop.app.start.main import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen child process must not start a second window
    sys.exit(main())
