"""TLS layer: the ``ssl.SSLContext`` a server or client starts from, with safe defaults.

:func:`server_context` is what ``tls.listen``, ``http.Server.listen_and_serve_tls``
and ``gonet serve --certfile`` build on: TLS 1.2 at least, no renegotiation,
no compression, session resumption on (OpenSSL's session cache and TLS 1.3
tickets, both on by default), ALPN offering only ``http/1.1`` (what the
HTTP server speaks), and an SNI callback that records the name the client
asked for and, given ``get_certificate``, picks the certificate for it (Go's
``Config.GetCertificate``).

Certificates reload without a restart: calling ``ctx.load_cert_chain`` again
on a context in use changes the certificate of every handshake that starts
afterwards (connections already open keep theirs).
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterable
from typing import Any

from gonet.tls.conn import Conn

__all__ = ["server_context", "client_context", "load_cert_chain"]

_SAFE_OPTIONS = ssl.OP_NO_COMPRESSION | getattr(ssl, "OP_NO_RENEGOTIATION", 0)


def load_cert_chain(ctx: ssl.SSLContext, certfile: str, keyfile: str | None = None,
                    password: Any = None) -> None:
    """``ctx.load_cert_chain`` with an error that names the files: a
    FileNotFoundError, or ``ssl.SSLError`` for a bad or mismatched file.
    Also the way to reload: new handshakes get the new certificate."""
    try:
        ctx.load_cert_chain(certfile, keyfile, password)
    except FileNotFoundError as e:
        err = FileNotFoundError(f"tls: certificate or key file not found: {e.filename or certfile}")
        err.errno = e.errno
        raise err from None
    except ssl.SSLError as e:
        files = certfile if keyfile is None else f"{certfile}, {keyfile}"
        raise ssl.SSLError(e.errno, f"tls: cannot load certificate ({files}): {e.reason or e}") from None


def server_context(certfile: str | None = None, keyfile: str | None = None, *,
                   password: Any = None, ca_certs: str | None = None,
                   cert_reqs: ssl.VerifyMode | int = ssl.CERT_NONE,
                   alpn: Iterable[str] | None = ("http/1.1",),
                   get_certificate: Callable[[str | None], ssl.SSLContext | None] | None = None,
                   min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2) -> ssl.SSLContext:
    """An ``ssl.SSLContext`` for a TLS server, with safe defaults (module docstring).

    ``certfile`` / ``keyfile``: PEM files (the key may be in ``certfile``).
    ``ca_certs`` and ``cert_reqs`` (``ssl.CERT_NONE``/``OPTIONAL``/``REQUIRED``,
    or gunicorn's 0/1/2) ask for client certificates. ``get_certificate(name)``
    is called with the SNI name of each handshake and returns the context
    (another ``server_context``) whose certificate to use, or None for this one.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = min_version
    ctx.options |= _SAFE_OPTIONS
    if certfile:
        load_cert_chain(ctx, certfile, keyfile, password)
    reqs = ssl.VerifyMode(int(cert_reqs))
    if ca_certs:
        ctx.load_verify_locations(ca_certs)
    elif reqs != ssl.CERT_NONE:
        ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH)
    ctx.verify_mode = reqs
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    ctx.sni_callback = _sni_callback(get_certificate)
    return ctx


def _sni_callback(get_certificate: Callable | None) -> Callable:
    def on_sni(conn: Any, server_name: str | None, ctx: ssl.SSLContext) -> int | None:
        if isinstance(conn, Conn):
            conn._sni = server_name
        if get_certificate is None:
            return None
        try:
            other = get_certificate(server_name)
        except Exception:  # noqa: BLE001 - becomes a handshake failure on the client's side
            return ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
        if other is not None:
            conn.context = other
        return None

    return on_sni


def client_context(ca_certs: str | None = None, *, certfile: str | None = None,
                   keyfile: str | None = None, password: Any = None,
                   alpn: Iterable[str] | None = None,
                   min_version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2) -> ssl.SSLContext:
    """An ``ssl.SSLContext`` for a TLS client: the system's trust store (or
    ``ca_certs``), host names checked, TLS 1.2 at least; ``certfile`` /
    ``keyfile`` for a client certificate; ``alpn`` protocols to offer."""
    ctx = ssl.create_default_context(cafile=ca_certs)
    ctx.minimum_version = min_version
    ctx.options |= _SAFE_OPTIONS
    if certfile:
        load_cert_chain(ctx, certfile, keyfile, password)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx
