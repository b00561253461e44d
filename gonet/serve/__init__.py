"""gonet.serve: ``gonet serve``, the command that runs handlers and WSGI apps in production.

The top layer, gunicorn's arbiter in Go's clothes. Modules: ``cli`` (the
options and the composition of what a worker serves), ``app`` (loading the
application), ``binds`` (``--bind`` values and the listening sockets),
``master`` (the supervisor process), ``worker`` (one server per process, on
its own scheduler).
"""

from gonet.serve.cli import main

__all__ = ["main"]
