"""HTTP layer: status codes, their reason phrases, and precomputed status lines.

Go's ``net/http`` status constants (``StatusOK`` -> ``STATUS_OK``) and
``StatusText``. The response writer takes its status line bytes from
:data:`STATUS_LINES`, built once at import, so the per-request path never
formats one.
"""

from __future__ import annotations

__all__ = ["STATUS_LINES", "status_line", "status_text"]

_TEXT = {
    100: "Continue",
    101: "Switching Protocols",
    102: "Processing",
    103: "Early Hints",
    200: "OK",
    201: "Created",
    202: "Accepted",
    203: "Non-Authoritative Information",
    204: "No Content",
    205: "Reset Content",
    206: "Partial Content",
    207: "Multi-Status",
    208: "Already Reported",
    226: "IM Used",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    305: "Use Proxy",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    409: "Conflict",
    410: "Gone",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Request Entity Too Large",
    414: "Request URI Too Long",
    415: "Unsupported Media Type",
    416: "Requested Range Not Satisfiable",
    417: "Expectation Failed",
    418: "I'm a teapot",
    421: "Misdirected Request",
    422: "Unprocessable Entity",
    423: "Locked",
    424: "Failed Dependency",
    425: "Too Early",
    426: "Upgrade Required",
    428: "Precondition Required",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    451: "Unavailable For Legal Reasons",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates",
    507: "Insufficient Storage",
    508: "Loop Detected",
    510: "Not Extended",
    511: "Network Authentication Required",
}


def status_text(code: int) -> str:
    """The reason phrase for ``code`` ("Not Found"), or "" if unknown (Go's StatusText)."""
    return _TEXT.get(code, "")


def _make_line(code: int) -> bytes:
    return f"HTTP/1.1 {code:03d} {_TEXT.get(code, 'status code ' + str(code))}\r\n".encode("ascii")


#: ``code -> b"HTTP/1.1 200 OK\r\n"`` for every known code.
STATUS_LINES: dict[int, bytes] = {code: _make_line(code) for code in _TEXT}


def status_line(code: int) -> bytes:
    """The HTTP/1.1 status line for ``code`` (known or not), CRLF included."""
    line = STATUS_LINES.get(code)
    if line is None:
        if not 100 <= code <= 999:
            raise ValueError(f"invalid HTTP status code {code}")
        line = _make_line(code)
    return line


# Go's names, snake-cased: STATUS_OK = 200, STATUS_NOT_FOUND = 404, ...
def _const_name(text: str) -> str:
    out = []
    for ch in text.upper():
        out.append(ch if ch.isalnum() else "_")
    return "STATUS_" + "".join(out).replace("__", "_").strip("_")


_ALIASES = {  # where Go's constant name differs from the phrase
    "STATUS_I_M_A_TEAPOT": "STATUS_TEAPOT",
    "STATUS_REQUEST_ENTITY_TOO_LARGE": "STATUS_REQUEST_ENTITY_TOO_LARGE",
    "STATUS_NON_AUTHORITATIVE_INFORMATION": "STATUS_NON_AUTHORITATIVE_INFO",
    "STATUS_HTTP_VERSION_NOT_SUPPORTED": "STATUS_HTTP_VERSION_NOT_SUPPORTED",
    "STATUS_REQUESTED_RANGE_NOT_SATISFIABLE": "STATUS_REQUESTED_RANGE_NOT_SATISFIABLE",
}

for _code, _text in _TEXT.items():
    _name = _const_name(_text)
    _name = _ALIASES.get(_name, _name)
    globals()[_name] = _code
    __all__.append(_name)
del _code, _text, _name
