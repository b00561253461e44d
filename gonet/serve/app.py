"""Serve layer: loading the application a worker serves.

``load_app("module:attr")`` imports it (``attr`` may be dotted, or
``name()`` for a factory), in the worker, never in the master, so a SIGHUP
restart loads the code afresh; ``detect_interface`` tells a gonet handler
``(w, r)`` from a WSGI app ``(environ, start_response)``. A failure is a
:class:`BootError` with a one-line reason and the exit status to use, and,
when the app's own code raised (at import or in its factory), the traceback
as uvicorn shows it (``detail``: the importlib and gonet frames left out).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import sys
import traceback
from typing import Any

__all__ = ["BootError", "load_app", "detect_interface"]

log = logging.getLogger("gonet.serve")


class BootError(Exception):
    """The application could not be loaded; ``code`` is the exit status to use,
    ``detail`` the app's traceback ("" when it is not the app's fault)."""

    def __init__(self, message: str, code: int = 2, detail: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.detail = detail


_HERE = os.path.dirname(os.path.abspath(__file__))
_IMPORTLIB = os.path.dirname(os.path.abspath(importlib.__file__))


def _app_traceback(e: BaseException) -> str:
    """``e``'s traceback without the frames of importlib and of this module."""
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if not f.filename.startswith("<frozen importlib")
              and os.path.dirname(os.path.abspath(f.filename)) not in (_HERE, _IMPORTLIB)]
    out = ["Traceback (most recent call last):\n"] if frames else []
    out += traceback.format_list(frames)
    out += traceback.format_exception_only(type(e), e)
    return "".join(out)


def load_app(spec: str, app_dir: str = ".") -> Any:
    """Import ``module:attr`` (``attr`` may be dotted, or ``name()`` for a factory).

    Raises :class:`BootError` (exit status 2) with a one-line reason.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise BootError(f"invalid APP {spec!r}: want module:attr, e.g. myapp:app")
    path = os.path.abspath(app_dir)
    if path not in sys.path:
        sys.path.insert(0, path)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and (module_name == e.name or module_name.startswith(e.name + ".")):
            raise BootError(f"cannot import module {module_name!r}: {e}") from None
        raise BootError(f"error importing module {module_name!r}: {e}",
                        detail=_app_traceback(e)) from None
    except BaseException as e:
        if isinstance(e, KeyboardInterrupt):
            raise
        where = ""
        if isinstance(e, SyntaxError) and e.filename:
            where = f" ({e.filename}, line {e.lineno})"
        raise BootError(f"error importing module {module_name!r}: "
                        f"{type(e).__name__}: {e}{where}", detail=_app_traceback(e)) from None
    call = attr.endswith("()")
    name = attr[:-2] if call else attr
    obj: Any = module
    for part in name.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise BootError(f"module {module_name!r} has no attribute {name!r}") from None
    if call:
        try:
            obj = obj()
        except Exception as e:
            raise BootError(f"factory {spec} raised {type(e).__name__}: {e}",
                            detail=_app_traceback(e)) from None
    return obj


def detect_interface(app: Any, interface: str = "auto", spec: str = "APP") -> str:
    """"gonet" or "wsgi" for ``app``; BootError when it is neither or cannot be told."""
    if not callable(app) and not hasattr(app, "serve_http"):
        raise BootError(f"{spec} is a {type(app).__name__}, not a handler or a WSGI app")
    if interface != "auto":
        return interface
    from gonet.http import ServeMux

    if isinstance(app, ServeMux) or hasattr(app, "serve_http"):
        return "gonet"
    if hasattr(app, "wsgi_app"):  # Flask, and WSGI frameworks shaped like it
        return "wsgi"
    if inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(
            inspect.getattr_static(type(app), "__call__", None)):
        raise BootError(f"{spec} is an async (ASGI?) app: gonet serves gonet handlers and WSGI apps")
    try:
        params = list(inspect.signature(app).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(names) == 3 and names[0] == "scope":
        raise BootError(f"{spec} looks like an ASGI app (scope, receive, send): not supported")
    if len(names) >= 2:
        first, second = names[0].lower(), names[1].lower()
        anns = [str(p.annotation) for p in params[:2]]
        if first in ("environ", "env", "environment", "e") or "start_response" in second \
                or second in ("start", "sr"):
            return "wsgi"
        if first in ("w", "rw", "writer", "resp", "response", "response_writer") \
                or second in ("r", "req", "request") or "ResponseWriter" in anns[0]:
            return "gonet"
    raise BootError(f"cannot tell whether {spec} is a gonet handler (w, r) or a WSGI app "
                    f"(environ, start_response): pass --interface gonet or --interface wsgi")
