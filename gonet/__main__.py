"""Command line entry: ``python -m gonet serve module:attr`` (see gonet.serve.cli)."""

import sys

from gonet.serve.cli import main

if __name__ == "__main__":
    sys.exit(main())
