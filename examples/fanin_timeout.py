"""Fan-in with select and a timeout.

    python examples/fanin_timeout.py

Three "sources" produce messages at different speeds on their own channels.
The main loop merges them with one ``select``; an overall deadline comes from
``gonet.time.after`` (``gotime.after``) and a per-message timeout from
``select(..., timeout=)``. A source that has finished is switched off by
replacing its case with ``None`` (Go's nil-channel trick).
"""

from __future__ import annotations

import time

import gonet
from gonet import gotime
from gonet.chan import Chan, select


def source(name: str, period: float, count: int, out: Chan) -> None:
    for i in range(count):
        gonet.sleep(period)
        out.send(f"{name}#{i}")
    out.close()


def main() -> None:
    specs = [("fast", 0.01, 20), ("medium", 0.03, 8), ("slow", 0.2, 100)]
    chans = []
    for name, period, count in specs:
        ch = Chan()
        gonet.go(source, name, period, count, ch)
        chans.append(ch)

    overall = gotime.after(1.0)  # stop listening after a second, whatever happens
    t0 = time.monotonic()
    got: dict[str, int] = {name: 0 for name, _, _ in specs}
    while True:
        cases = [ch.recv_case() if ch is not None else None for ch in chans]
        i, msg, ok = select(*cases, overall.recv_case(), timeout=0.5)
        if i == -1:
            print("no message for 0.5 s: giving up")
            break
        if i == len(chans):
            print(f"overall deadline reached after {time.monotonic() - t0:.2f} s")
            break
        if not ok:
            print(f"{specs[i][0]} finished")
            chans[i] = None  # never ready again
            continue
        got[specs[i][0]] += 1
    print("received:", got)


if __name__ == "__main__":
    main()
