"""Hypothesis: random programs of senders, receivers, selects and closers match a model.

Each step starts one goroutine (or has main close a channel / try a send), lets
the scheduler settle, and compares which goroutines have finished, and with
what, against a sequential model of Go's channel rules: FIFO queues of parked
senders and receivers, a bounded buffer, close waking everyone. The only free
choice is which ready case a select takes; the model accepts the choice the
real select made if that case was ready, and follows it.
"""

from collections import deque

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gonet
from gonet.chan import Chan, ChanClosedError, select


class Model:
    def __init__(self, caps):
        n = len(caps)
        self.cap = list(caps)
        self.buf = [deque() for _ in range(n)]
        self.closed = [False] * n
        self.recvq = [deque() for _ in range(n)]  # wids (plain recv or select)
        self.sendq = [deque() for _ in range(n)]  # (wid, value)
        self.select_chs = {}  # wid -> list of channel numbers, for selects
        self.results = {}

    def _finish_receiver(self, wid, ch, v, ok):
        chs = self.select_chs.get(wid)
        if chs is None:
            self.results[wid] = ("recv", v, ok)
            return
        for c in chs:
            if wid in self.recvq[c]:
                self.recvq[c].remove(wid)
        self.results[wid] = ("select", chs.index(ch), v, ok)

    def ready(self, ch):
        return bool(self.buf[ch] or self.sendq[ch] or self.closed[ch])

    def take(self, ch):
        if self.buf[ch]:
            v = self.buf[ch].popleft()
            if self.sendq[ch]:
                sw, sv = self.sendq[ch].popleft()
                self.buf[ch].append(sv)
                self.results[sw] = ("send", "ok")
            return v, True
        if self.sendq[ch]:
            sw, sv = self.sendq[ch].popleft()
            self.results[sw] = ("send", "ok")
            return sv, True
        assert self.closed[ch]
        return None, False

    def send(self, wid, ch, v):
        if self.closed[ch]:
            self.results[wid] = ("send", "closed")
        elif self.recvq[ch]:
            r = self.recvq[ch].popleft()
            self._finish_receiver(r, ch, v, True)
            self.results[wid] = ("send", "ok")
        elif len(self.buf[ch]) < self.cap[ch]:
            self.buf[ch].append(v)
            self.results[wid] = ("send", "ok")
        else:
            self.sendq[ch].append((wid, v))

    def recv(self, wid, ch):
        if self.ready(ch):
            v, ok = self.take(ch)
            self.results[wid] = ("recv", v, ok)
        else:
            self.recvq[ch].append(wid)

    def select(self, wid, chs, real):
        ready = [i for i, c in enumerate(chs) if self.ready(c)]
        if not ready:
            self.select_chs[wid] = chs
            for c in chs:
                self.recvq[c].append(wid)
            return
        assert real is not None, "select should have completed at once"
        i = real[1]
        assert i in ready, (i, ready)
        v, ok = self.take(chs[i])
        self.results[wid] = ("select", i, v, ok)

    def close(self, ch):
        if self.closed[ch]:
            return "raise"
        self.closed[ch] = True
        while self.recvq[ch]:
            self._finish_receiver(self.recvq[ch].popleft(), ch, None, False)
        while self.sendq[ch]:
            sw, _ = self.sendq[ch].popleft()
            self.results[sw] = ("send", "closed")
        return "ok"

    def try_send(self, ch, v):
        """Main's non-blocking send via select(default=True): True if it went through."""
        if self.closed[ch]:
            return "raise"
        if self.recvq[ch] or len(self.buf[ch]) < self.cap[ch]:
            self.send(-1, ch, v)
            del self.results[-1]
            return True
        return False


def settle():
    for _ in range(3):
        gonet.sleep(0)


op = st.one_of(
    st.tuples(st.just("send"), st.integers(0, 2)),
    st.tuples(st.just("recv"), st.integers(0, 2)),
    st.tuples(st.just("select"), st.lists(st.integers(0, 2), min_size=2, max_size=3, unique=True)),
    st.tuples(st.just("close"), st.integers(0, 2)),
    st.tuples(st.just("trysend"), st.integers(0, 2)),
)


@pytest.mark.timeout(60)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(caps=st.lists(st.integers(0, 2), min_size=3, max_size=3), ops=st.lists(op, max_size=25))
def test_random_programs_match_model(caps, ops):
    chans = [Chan(c) for c in caps]
    model = Model(caps)
    real = {}
    counter = iter(range(10**6))

    def do_send(wid, ch, v):
        try:
            chans[ch].send(v)
            real[wid] = ("send", "ok")
        except ChanClosedError:
            real[wid] = ("send", "closed")

    def do_recv(wid, ch):
        v, ok = chans[ch].recv_ok()
        real[wid] = ("recv", v, ok)

    def do_select(wid, chs):
        i, v, ok = select(*(chans[c].recv_case() for c in chs))
        real[wid] = ("select", i, v, ok)

    for kind, arg in ops:
        wid = next(counter)
        if kind == "send":
            gonet.go(do_send, wid, arg, f"v{wid}")
            settle()
            model.send(wid, arg, f"v{wid}")
        elif kind == "recv":
            gonet.go(do_recv, wid, arg)
            settle()
            model.recv(wid, arg)
        elif kind == "select":
            gonet.go(do_select, wid, arg)
            settle()
            model.select(wid, arg, real.get(wid))
        elif kind == "close":
            try:
                chans[arg].close()
                got = "ok"
            except ChanClosedError:
                got = "raise"
            assert got == model.close(arg)
            settle()
        else:
            try:
                i, _, _ = select(chans[arg].send_case(f"t{wid}"), default=True)
                got = i == 0
            except ChanClosedError:
                got = "raise"
            assert got == model.try_send(arg, f"t{wid}")
            settle()
        assert real == model.results, (kind, arg)
        for c, ch in enumerate(chans):
            assert list(ch._buf) == list(model.buf[c])

    # Wind down: close everything, drain buffers; every goroutine must have finished.
    for c, ch in enumerate(chans):
        if not ch.closed:
            ch.close()
            model.close(c)
    settle()
    assert real == model.results
    for ch in chans:
        assert not ch._recvq and not ch._sendq
