"""Serve layer: logging for ``gonet serve``: gonet's own loggers, never the root logger.

``gonet serve`` configures two loggers and leaves every other one, the root
logger first of all, to the application (a Django or Flask app that sets up
logging gets each of its lines once, not once more through a handler of
ours):

- ``gonet`` (and below it ``gonet.serve``, ``gonet.http``, ``gonet.sysmon``):
  the server's own messages, to stderr or ``--error-logfile``, at
  ``--log-level``; it does not propagate to the root logger.
- ``gonet.access``: one line per request, to stdout or ``--access-logfile``
  when the access log is on; it does not propagate either.

``--log-config FILE`` is applied after that, as gunicorn and uvicorn take
it: a ``.json`` file is a ``logging.config.dictConfig`` dictionary, any
other a ``fileConfig`` INI file; loggers it does not name keep working
(``disable_existing_loggers`` defaults to False). ``--log-level``, when given
on the command line, still sets the ``gonet`` logger's level after it.

``reopen_files()`` is SIGUSR1's job (logrotate's ``postrotate``): every
``logging.FileHandler`` in the process closes its file and opens the path
afresh at its next record.
"""

from __future__ import annotations

import json
import logging
import logging.config
import sys

__all__ = ["setup", "reopen_files", "FORMAT", "DATEFMT"]

FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"
DATEFMT = "%Y-%m-%d %H:%M:%S %z"


def _handler(path: str | None, stream: object) -> logging.Handler:
    if path and path != "-":
        return logging.FileHandler(path, encoding="utf-8")
    return logging.StreamHandler(stream)  # type: ignore[arg-type]


def setup(level: str = "info", *, error_logfile: str | None = None, access_log: bool = False,
          access_logfile: str | None = None, log_config: str | None = None,
          level_given: bool = True) -> bool:
    """Configure gonet's loggers (see the module docstring); returns whether
    the access log is on. Raises ValueError for a log config that cannot be
    applied, naming the file."""
    lvl = getattr(logging, level.upper())
    g = logging.getLogger("gonet")
    for h in list(g.handlers):
        g.removeHandler(h)
    h = _handler(error_logfile, sys.stderr)
    h.setFormatter(logging.Formatter(FORMAT, DATEFMT))
    g.addHandler(h)
    g.setLevel(lvl)
    g.propagate = False
    acc = logging.getLogger("gonet.access")
    for h in list(acc.handlers):
        acc.removeHandler(h)
    acc.propagate = False
    acc.disabled = False
    access_on = bool(access_log or access_logfile)
    if access_on:
        h = _handler(access_logfile, sys.stdout)
        h.setFormatter(logging.Formatter("%(message)s"))
        acc.addHandler(h)
        acc.setLevel(logging.INFO)
    if log_config:
        _apply_config(log_config)
        if level_given:
            g.setLevel(lvl)
        access_on = access_on or bool(acc.handlers)
    acc.disabled = not access_on
    return access_on


def _apply_config(path: str) -> None:
    try:
        if path.endswith(".json"):
            with open(path, encoding="utf-8") as f:
                cfg = json.load(f)
            if not isinstance(cfg, dict):
                raise ValueError("the JSON file must hold a dictConfig dictionary")
            cfg.setdefault("version", 1)
            cfg.setdefault("disable_existing_loggers", False)
            logging.config.dictConfig(cfg)
        else:
            logging.config.fileConfig(path, disable_existing_loggers=False)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ImportError) as e:
        raise ValueError(f"--log-config {path}: {type(e).__name__}: {e}") from None


def reopen_files() -> int:
    """Close every FileHandler's file so that its next record reopens the
    path (after logrotate moved it); returns how many there were."""
    n = 0
    loggers = [logging.getLogger()] + [lg for lg in logging.Logger.manager.loggerDict.values()
                                       if isinstance(lg, logging.Logger)]
    seen = set()
    for lg in loggers:
        for h in lg.handlers:
            if isinstance(h, logging.FileHandler) and id(h) not in seen:
                seen.add(id(h))
                h.acquire()
                try:
                    if h.stream is not None:
                        h.stream.close()
                        h.stream = None  # FileHandler.emit opens the path again
                finally:
                    h.release()
                n += 1
    return n
