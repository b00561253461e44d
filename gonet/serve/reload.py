"""Serve layer: ``--reload``: replace the workers when a source file changes (development).

The master never imports the app, so it watches directories, not modules:
``--reload-dir`` (repeatable; the app directory by default), for ``*.py``
files, skipping hidden directories, ``__pycache__``, virtual environments
and ``site-packages``. A change is what SIGHUP does: new workers load the
new code, and the old ones drain once those are ready; a new version that
fails to import leaves the old workers serving, its traceback in the log.

The watcher is ``watchfiles`` when it is installed (``pip install
'gonet[reload]'``: inotify on Linux, a Rust library, maintained by the
pydantic/uvicorn people and what uvicorn's ``--reload`` uses); without it, a
thread that polls the files' modification times twice a second.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator

__all__ = ["Reloader", "scan"]

log = logging.getLogger("gonet.serve")

_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", "venv", "env"}
POLL_INTERVAL = 0.5


def _py_files(root: str) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS]
        for f in filenames:
            if f.endswith(".py"):
                yield os.path.join(dirpath, f)


def scan(dirs: list[str]) -> dict[str, int]:
    """{path: mtime_ns} of the ``*.py`` files under ``dirs``."""
    out = {}
    for d in dirs:
        for path in _py_files(d):
            try:
                out[path] = os.stat(path).st_mtime_ns
            except OSError:
                pass
    return out


class Reloader:
    """Calls ``wake()`` (from its own thread) when a watched file changes.

    ``backend``: "watchfiles", "poll", or None for watchfiles if importable.
    """

    def __init__(self, dirs: list[str], backend: str | None = None) -> None:
        self.dirs = [os.path.abspath(d) for d in dirs]
        if backend is None:
            try:
                import watchfiles  # noqa: F401

                backend = "watchfiles"
            except ImportError:
                backend = "poll"
        self.backend = backend
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, wake: Callable[[], None]) -> None:
        target = self._watchfiles if self.backend == "watchfiles" else self._poll
        self._thread = threading.Thread(target=target, args=(wake,), name="gonet reload",
                                        daemon=True)
        self._thread.start()
        log.info("--reload: watching %s (%s)", ", ".join(self.dirs), self.backend)

    def stop(self) -> None:
        self._stop.set()

    def forget(self) -> None:
        """In a forked child: the thread is gone; never start it there."""
        self._thread = None

    def _changed(self, paths: list[str], wake: Callable[[], None]) -> None:
        shown = ", ".join(os.path.relpath(p) for p in sorted(paths)[:3])
        more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
        log.info("--reload: %s changed", shown + more)
        wake()

    def _watchfiles(self, wake: Callable[[], None]) -> None:
        import watchfiles

        try:
            for changes in watchfiles.watch(*self.dirs, watch_filter=watchfiles.PythonFilter(),
                                            stop_event=self._stop, debounce=300, step=50,
                                            raise_interrupt=False):
                self._changed([p for _, p in changes], wake)
        except Exception as e:  # noqa: BLE001 - fall back rather than lose --reload
            if not self._stop.is_set():
                log.warning("--reload: watchfiles failed (%s); polling instead", e)
                self._poll(wake)

    def _poll(self, wake: Callable[[], None]) -> None:
        before = scan(self.dirs)
        while not self._stop.wait(POLL_INTERVAL):
            now = scan(self.dirs)
            changed = [p for p in now.keys() | before.keys() if now.get(p) != before.get(p)]
            before = now
            if changed:
                self._changed(changed, wake)
