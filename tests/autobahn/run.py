"""Run the Autobahn|Testsuite fuzzingclient against gonet.websocket (by hand).

Autobahn's ``wstest`` runs on Python 2.7 with Twisted 19 only, so it is not
part of the pytest suite (``tests/test_websocket_protocol.py`` has its
sections as cases); this script runs the real thing where a Python 2.7 is
at hand (pyenv has one: ``pyenv install 2.7.18``)::

    python tests/autobahn/run.py --python2 ~/.pyenv/versions/2.7.18/bin/python
    python tests/autobahn/run.py --python2 PY2 --cases "1.*,5.*" --compression

The first run installs ``autobahntestsuite`` and its pinned dependencies
from PyPI into ``tests/autobahn/.build/`` (``pip --target``). A gonet echo
server (``accept(..., compression=True, max_message_size=None)``) runs in a
subprocess of this interpreter. Prints a summary and exits 1 when a case
ends other than OK, NON-STRICT or INFORMATIONAL; the HTML report is in
``tests/autobahn/.build/reports/``. Sections 12 and 13 (permessage-deflate)
are slow with a Python 2 client: ``--compression`` runs nine sizes of 12.1,
12.2, 13.1, 13.3, 13.5 and 13.7.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILD = HERE / ".build"
LIB = BUILD / "py2lib"
ROOT = HERE.parent.parent

#: autobahntestsuite's own pins (its requirements.txt), less the C accelerators.
PINS = ["autobahntestsuite", "setuptools==44.0.0", "txaio==2.1.0", "incremental==16.10.1",
        "pyOpenSSL==19.1.0", "cryptography==3.3.2", "Twisted==19.10.0",
        "zope.interface==4.6.0", "jinja2==2.11.3", "markupsafe==1.1.1", "Werkzeug==1.0.1",
        "klein==17.10.0", "service_identity==18.1.0", "unittest2==1.1.0", "six==1.16.0",
        "autobahn[twisted]==0.10.9"]

SERVER = """
import sys
from gonet import http, websocket

def echo(w, r):
    ws = websocket.accept(w, r, compression=True, max_message_size=None)
    try:
        with ws:
            for msg in ws:
                ws.send(msg)
    except websocket.Closed:
        pass

http.Server(addr="127.0.0.1:" + sys.argv[1], handler=echo).listen_and_serve()
"""

PASSING = {"OK", "NON-STRICT", "INFORMATIONAL"}


def install(py2: str) -> None:
    if (LIB / "autobahntestsuite").exists():
        return
    LIB.mkdir(parents=True, exist_ok=True)
    subprocess.run([py2, "-m", "pip", "install", "-q", "--target", str(LIB), *PINS], check=True)
    # zope is a namespace package whose .pth is not read from PYTHONPATH.
    (LIB / "zope" / "__init__.py").write_text(
        "__path__ = __import__('pkgutil').extend_path(__path__, __name__)\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--python2", required=True, help="a Python 2.7 interpreter")
    p.add_argument("--cases", default="*", help='comma-separated, e.g. "1.*,7.*" (default: all '
                                                'but 12 and 13)')
    p.add_argument("--compression", action="store_true",
                   help="also a subset of sections 12 and 13 (permessage-deflate)")
    a = p.parse_args()
    install(a.python2)
    cases = a.cases.split(",")
    if a.compression:
        cases += [f"{s}.{i}" for s in ("12.1", "12.2", "13.1", "13.3", "13.5", "13.7")
                  for i in range(1, 10)]
    port = free_port()
    reports = BUILD / "reports"
    spec = BUILD / "fuzzingclient.json"
    spec.write_text(json.dumps({
        "outdir": str(reports), "servers": [{"agent": "gonet", "url": f"ws://127.0.0.1:{port}"}],
        "cases": cases, "exclude-cases": [] if a.compression else ["12.*", "13.*"],
        "exclude-agent-cases": {}}))
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=ROOT)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        subprocess.run([a.python2, "-m", "autobahntestsuite.wstest", "-m", "fuzzingclient",
                        "-s", str(spec)], cwd=BUILD, env={"PYTHONPATH": str(LIB)}, check=True,
                       stdout=subprocess.DEVNULL)
    finally:
        server.terminate()
        server.wait(10)
    results = json.loads((reports / "index.json").read_text())["gonet"]
    counts: dict[str, int] = {}
    bad = []
    for case, r in sorted(results.items()):
        counts[r["behavior"]] = counts.get(r["behavior"], 0) + 1
        if r["behavior"] not in PASSING or r["behaviorClose"] not in PASSING:
            bad.append(f"{case}: {r['behavior']} / close {r['behaviorClose']}")
    print(f"{len(results)} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for line in bad:
        print("  " + line)
    print(f"report: {reports / 'index.html'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
