"""Command line entry: ``python -m gonet serve module:attr`` (see gonet.cli)."""

import sys

from gonet.cli import main

if __name__ == "__main__":
    sys.exit(main())
