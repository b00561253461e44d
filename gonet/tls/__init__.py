"""gonet.tls: Go's ``crypto/tls`` on the netpoller.

Modules: ``conn`` (Conn: TLS over any gonet Conn; ConnectionState;
HandshakeError; client, server), ``config`` (server_context and
client_context with safe defaults), ``dial`` (listen, new_listener, dial).
Handshakes, reads and writes park the calling goroutine, never the thread,
under the Conn's deadlines.
"""

from gonet.tls.config import client_context, load_cert_chain, server_context
from gonet.tls.conn import Conn, ConnectionState, HandshakeError, client, server
from gonet.tls.dial import Listener, dial, listen, new_listener

__all__ = [
    "Conn",
    "ConnectionState",
    "HandshakeError",
    "Listener",
    "client",
    "client_context",
    "dial",
    "listen",
    "load_cert_chain",
    "new_listener",
    "server",
    "server_context",
]
