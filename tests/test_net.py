"""Net and FD layers: listen/accept/dial, Conn read/write, deadlines, close, errors."""

from __future__ import annotations

import errno
import os
import socket
import time

import pytest

import gonet
from gonet.runtime.sched import WAITING


def _echo_server(network="tcp", address="127.0.0.1:0"):
    ln = gonet.listen(network, address)

    def serve(c):
        with c:
            while True:
                d = c.read(65536)
                if not d:
                    return
                c.write(d)

    def acceptor():
        for c in ln:
            gonet.go(serve, c)

    gonet.go(acceptor)
    return ln


def _has_ipv6() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_tcp_echo(run):
    def body():
        ln = _echo_server()
        with gonet.dial("tcp", str(ln.addr)) as c:
            assert c.write(b"hello") == 5
            assert c.read(100) == b"hello"
            assert c.remote_addr == ln.addr
            assert str(c.local_addr).startswith("127.0.0.1:")
        ln.close()

    run(body)


def test_unix_echo(run, tmp_path):
    path = str(tmp_path / "echo.sock")

    def body():
        ln = _echo_server("unix", path)
        assert str(ln.addr) == path
        with gonet.dial("unix", path) as c:
            c.write(b"over unix")
            assert c.read(100) == b"over unix"
        ln.close()
        assert not os.path.exists(path)  # the listener removes its socket file

    run(body)


@pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 loopback on this machine")
def test_ipv6_echo(run):
    def body():
        ln = _echo_server("tcp6", "[::1]:0")
        assert str(ln.addr).startswith("[::1]:")
        assert ln.addr.host == "::1"
        with gonet.dial("tcp", str(ln.addr)) as c:
            c.write(b"v6")
            assert c.read(10) == b"v6"
        ln.close()

    run(body)


def test_udp_echo(run):
    def body():
        srv = gonet.listen_packet("udp", "127.0.0.1:0")

        def serve():
            for _ in range(3):
                data, addr = srv.read_from(2048)
                srv.write_to(data.upper(), addr)

        g = gonet.go(serve)
        cli = gonet.listen_packet("udp", "127.0.0.1:0")
        got = []
        for msg in (b"a", b"bb", b"ccc"):
            cli.write_to(msg, str(srv.local_addr))
            data, addr = cli.read_from(2048)
            got.append(data)
            assert addr == srv.local_addr
        g.join()
        c = gonet.dial("udp", str(srv.local_addr))
        c.write(b"connected")
        data, addr = srv.read_from(100)
        assert data == b"connected" and addr == c.local_addr
        for s in (srv, cli, c):
            s.close()
        return got

    assert run(body) == [b"A", b"BB", b"CCC"]


@pytest.mark.timeout(120)
def test_2000_connections_100_messages_each(run, backend):
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 5000:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    nconn = 2000 if backend == "epoll" else 500

    def body():
        ln = _echo_server()
        addr = str(ln.addr)
        done = []

        def client(i):
            with gonet.dial("tcp", addr) as c:
                msg = b"%06d" % i * 10
                for _ in range(100):
                    c.write(msg)
                    got = b""
                    while len(got) < len(msg):
                        got += c.read(len(msg) - len(got))
                    assert got == msg
            done.append(i)

        gs = [gonet.go(client, i) for i in range(nconn)]
        for g in gs:
            g.join()
        ln.close()
        return len(done)

    assert run(body, timeout=110) == nconn


def test_read_deadline_fires_within_tolerance(run):
    def body():
        ln = _echo_server()
        c = gonet.dial("tcp", str(ln.addr))
        t0 = time.monotonic()
        c.set_read_deadline(t0 + 0.2)
        with pytest.raises(gonet.DeadlineExceededError) as ei:
            c.read(10)
        dt = time.monotonic() - t0
        assert isinstance(ei.value, TimeoutError)
        msg = str(ei.value)
        assert msg.startswith("read tcp 127.0.0.1:") and msg.endswith(": i/o timeout")
        assert f"->{ln.addr}" in msg
        assert ei.value.op == "read"
        # Stays expired until moved...
        with pytest.raises(gonet.DeadlineExceededError):
            c.read(10)
        # ...and once cleared, reads work again.
        c.set_read_deadline(None)
        c.write(b"again")
        assert c.read(10) == b"again"
        c.close()
        ln.close()
        return dt

    dt = run(body)
    assert 0.18 <= dt < 1.5


def test_deadline_set_from_another_goroutine_wakes_parked_read(run):
    def body():
        ln = _echo_server()
        c = gonet.dial("tcp", str(ln.addr))
        res = {}

        def reader():
            try:
                c.read(10)
            except gonet.DeadlineExceededError:
                res["t"] = time.monotonic()

        g = gonet.go(reader)
        gonet.sleep(0.05)
        assert g.state == WAITING
        t0 = time.monotonic()
        c.set_read_deadline(t0 - 1)  # in the past: at once
        g.join()
        c.close()
        ln.close()
        return res["t"] - t0

    assert run(body) < 0.2


def test_past_deadline_fails_at_once_even_with_data(run):
    def body():
        ln = _echo_server()
        c = gonet.dial("tcp", str(ln.addr))
        c.write(b"data")
        gonet.sleep(0.05)
        c.set_deadline(time.monotonic() - 1)
        with pytest.raises(gonet.DeadlineExceededError):
            c.read(10)
        with pytest.raises(gonet.DeadlineExceededError, match="write tcp"):
            c.write(b"x")
        c.close()
        ln.close()

    run(body)


def test_cleared_deadline_blocks_again(run):
    def body():
        ln = _echo_server()
        c = gonet.dial("tcp", str(ln.addr))
        c.set_read_deadline(time.monotonic() + 0.1)
        c.set_read_deadline(None)
        g = gonet.go(c.read, 10)
        gonet.sleep(0.3)
        parked = g.state == WAITING
        c.write(b"late")
        data = g.join()
        c.close()
        ln.close()
        return parked, data

    assert run(body) == (True, b"late")


def test_write_deadline_against_peer_that_never_reads(run):
    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        c = gonet.dial("tcp", str(ln.addr))
        peer = ln.accept()  # never reads
        c.set_write_deadline(time.monotonic() + 0.3)
        t0 = time.monotonic()
        with pytest.raises(gonet.DeadlineExceededError, match="write tcp .*: i/o timeout"):
            c.write(b"x" * (64 << 20))  # far more than the socket buffers hold
        dt = time.monotonic() - t0
        for s in (c, peer, ln):
            s.close()
        return dt

    dt = run(body)
    assert 0.25 <= dt < 3.0


def test_close_wakes_parked_read_and_accept(run):
    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        c = gonet.dial("tcp", str(ln.addr))
        peer = ln.accept()
        errs = {}

        def reader():
            try:
                c.read(10)
            except gonet.ClosedError as e:
                errs["read"] = str(e)

        def acceptor():
            try:
                ln.accept()
            except gonet.ClosedError as e:
                errs["accept"] = str(e)

        gr, ga = gonet.go(reader), gonet.go(acceptor)
        gonet.sleep(0.02)
        assert gr.state == WAITING and ga.state == WAITING
        c.close()
        ln.close()
        gr.join()
        ga.join()
        with pytest.raises(gonet.ClosedError):
            c.write(b"x")
        c.close()  # closing twice is harmless
        peer.close()
        return errs

    errs = run(body)
    assert errs["read"].endswith("use of closed network connection")
    assert errs["read"].startswith("read tcp ")
    assert errs["accept"].startswith("accept tcp 127.0.0.1:")


def test_fd_closed_only_after_last_operation(run):
    """close() while a read is parked: the fd number stays ours until the read returns."""

    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        c = gonet.dial("tcp", str(ln.addr))
        peer = ln.accept()
        fdno = c.fileno()

        def reader():
            with pytest.raises(gonet.ClosedError):
                c.read(10)

        g = gonet.go(reader)
        gonet.sleep(0)
        c.close()
        open_while_parked = _fd_open(fdno)  # the parked read still holds it
        g.join()  # the read returned: the last reference is gone
        closed_after = not _fd_open(fdno)
        peer.close()
        ln.close()
        return open_while_parked, closed_after

    assert run(body) == (True, True)


def test_fd_closed_only_after_both_directions_return(run):
    """A read and a write both parked when close() comes: the fd is closed
    when the second of them returns, not the first."""

    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        c = gonet.dial("tcp", str(ln.addr))
        peer = ln.accept()  # never reads: c's writes fill the buffers and park
        fdno = c.fileno()
        order = []

        def reader():
            with pytest.raises(gonet.ClosedError):
                c.read(10)
            order.append(("read returned", _fd_open(fdno)))

        def writer():
            with pytest.raises(gonet.ClosedError):
                c.write(b"x" * (64 << 20))
            order.append(("write returned", _fd_open(fdno)))

        r = gonet.go(reader)
        w = gonet.go(writer)
        gonet.sleep(0.05)  # both parked: the read on no data, the write on full buffers
        c.close()
        r.join()
        w.join()
        closed_after = not _fd_open(fdno)
        peer.close()
        ln.close()
        return order, closed_after

    order, closed_after = run(body)
    assert order == [("read returned", True), ("write returned", False)]
    assert closed_after


def _fd_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def test_two_readers_take_turns(run):
    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        c = gonet.dial("tcp", str(ln.addr))
        peer = ln.accept()
        got = []
        r1 = gonet.go(lambda: got.append(c.read(5)))
        r2 = gonet.go(lambda: got.append(c.read(5)))
        gonet.sleep(0)
        peer.write(b"first")
        gonet.sleep(0.05)
        peer.write(b"secnd")
        r1.join()
        r2.join()
        for s in (c, peer, ln):
            s.close()
        return got

    assert run(body) == [b"first", b"secnd"]


def test_connected_udp_reads_every_queued_datagram(run):
    """Three datagrams queued under one edge: a short datagram read is not a
    drained socket, so the third read must not wait for an edge that never comes."""

    def body():
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        peer.bind(("127.0.0.1", 0))
        c = gonet.dial("udp", "{}:{}".format(*peer.getsockname()))
        peer.connect((c.local_addr.host, c.local_addr.port))
        for m in (b"one", b"two", b"three"):
            peer.send(m)
        time.sleep(0.05)  # all three queued before the poller looks
        gonet.sleep(0.01)  # the poller sees one edge
        got = [c.read(100), c.read(100)]
        c.set_read_deadline(time.monotonic() + 1.0)
        try:
            got.append(c.read(100))
        except OSError as e:
            got.append(repr(e))
        c.close()
        peer.close()
        return got

    assert run(body) == [b"one", b"two", b"three"]


def test_half_close(run):
    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        c = gonet.dial("tcp", str(ln.addr))
        peer = ln.accept()
        c.write(b"request")
        c.close_write()
        data = b""
        while True:
            chunk = peer.read(100)
            if not chunk:
                break
            data += chunk
        peer.write(b"reply after EOF")
        peer.close()
        reply = c.read(100)
        c.close()
        ln.close()
        return data, reply

    assert run(body) == (b"request", b"reply after EOF")


def test_dial_refused(run):
    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        addr = str(ln.addr)
        ln.close()
        with pytest.raises(ConnectionRefusedError) as ei:
            gonet.dial("tcp", addr)
        return str(ei.value), ei.value.op

    msg, op = run(body)
    assert msg.startswith("dial tcp 127.0.0.1:") and "connection refused" in msg
    assert op == "dial"


def test_dial_timeout_on_full_backlog(run):
    def body():
        # A listener that never accepts, with the smallest backlog: once its
        # queue is full the kernel drops further SYNs and connect() hangs.
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(0)
        addr = f"127.0.0.1:{lsock.getsockname()[1]}"
        conns = []
        try:
            for _ in range(16):
                t0 = time.monotonic()
                try:
                    conns.append(gonet.dial("tcp", addr, timeout=0.3))
                except gonet.DeadlineExceededError as e:
                    return time.monotonic() - t0, str(e)
            pytest.skip("kernel kept accepting SYNs (syncookies?); cannot provoke a dial timeout")
        finally:
            for c in conns:
                c.close()
            lsock.close()

    dt, msg = run(body)
    assert 0.25 <= dt < 2.5
    assert msg.startswith("dial tcp 127.0.0.1:") and msg.endswith("i/o timeout")


def test_dial_localhost_by_name(run):
    def body():
        ln = _echo_server("tcp4", "127.0.0.1:0")
        with gonet.dial("tcp", f"localhost:{ln.addr.port}") as c:
            c.write(b"by name")
            out = c.read(100)
        ln.close()
        return out

    assert run(body) == b"by name"


def test_socket_defaults(run):
    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        c = gonet.dial("tcp", str(ln.addr))
        peer = ln.accept()
        out = []
        for conn in (c, peer):
            s = socket.socket(fileno=os.dup(conn.fileno()))
            out.append((
                s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0,
                s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0,
            ))
            s.close()
        lsock = socket.socket(fileno=os.dup(ln.fileno()))
        out.append(lsock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) != 0)
        lsock.close()
        for x in (c, peer, ln):
            x.close()
        return out

    assert run(body) == [(True, True), (True, True), True]


def test_no_fd_leak_after_10k_cycles(run, backend):
    n = 10_000 if backend == "epoll" else 2_000

    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        addr = str(ln.addr)

        def acceptor():
            for c in ln:
                c.close()

        gonet.go(acceptor)
        # warm up (thread pool, caches), then count
        gonet.dial("tcp", addr).close()
        gonet.sleep(0.01)
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(n):
            gonet.dial("tcp", addr).close()
        gonet.sleep(0.05)
        after = len(os.listdir("/proc/self/fd"))
        ln.close()
        return before, after

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc")
    before, after = run(body, timeout=120)
    assert after <= before


def test_addresses_print_as_go_does():
    assert str(gonet.TCPAddr("127.0.0.1", 8080)) == "127.0.0.1:8080"
    assert str(gonet.TCPAddr("::1", 8080)) == "[::1]:8080"
    assert gonet.split_host_port("[::1]:80") == ("::1", "80")
    assert gonet.split_host_port(":0") == ("", "0")
    assert gonet.join_host_port("example.com", 443) == "example.com:443"
    with pytest.raises(ValueError, match="missing port"):
        gonet.split_host_port("localhost")
    with pytest.raises(ValueError, match="too many colons"):
        gonet.split_host_port("::1:80")


def test_bad_network_and_address_errors(run):
    def body():
        with pytest.raises(ValueError, match="unknown network"):
            gonet.listen("sctp", ":0")
        with pytest.raises(ValueError, match="missing port"):
            gonet.dial("tcp", "127.0.0.1")
        ln = gonet.listen("tcp", "127.0.0.1:0")
        with pytest.raises(OSError, match="listen tcp 127.0.0.1:[0-9]+: bind: address already in use"):
            gonet.listen("tcp", str(ln.addr))
        ln.close()

    run(body)


def test_listen_any_host(run):
    def body():
        ln = gonet.listen("tcp", ":0")
        with gonet.dial("tcp", f"127.0.0.1:{ln.addr.port}") as c:
            peer = ln.accept()
            c.write(b"hi")
            out = peer.read(10)
            peer.close()
        ln.close()
        return out

    assert run(body) == b"hi"


def test_sendfile(run, tmp_path):
    payload = os.urandom(300_000)
    path = tmp_path / "blob"
    path.write_bytes(payload)

    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        c = gonet.dial("tcp", str(ln.addr))
        peer = ln.accept()

        def sender():
            with open(path, "rb") as f:
                n = peer.sendfile(f, offset=100)
            peer.close()
            return n

        g = gonet.go(sender)
        got = bytearray()
        buf = bytearray(65536)
        while True:
            k = c.read_into(buf)
            if not k:
                break
            got += buf[:k]
        c.close()
        ln.close()
        return g.join(), bytes(got)

    n, got = run(body)
    assert n == len(payload) - 100
    assert got == payload[100:]


def test_bufio_reader_lines_and_exact(run):
    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        c = gonet.dial("tcp", str(ln.addr))
        peer = ln.accept()

        def writer():
            for part in (b"HELLO 5\r\nab", b"cde", b"line two\nrest"):
                peer.write(part)
                gonet.sleep(0.01)
            peer.close()

        gonet.go(writer)
        r = gonet.bufio.Reader(c)
        head = r.readline()
        body_ = r.read_exactly(5)
        line2 = r.readline()
        with pytest.raises(gonet.bufio.IncompleteReadError) as ei:
            r.read_exactly(10)
        c.close()
        ln.close()
        return head, body_, line2, ei.value.partial

    assert run(body) == (b"HELLO 5\r\n", b"abcde", b"line two\n", b"rest")


def test_connection_reset_keeps_type_and_names_op(run):
    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        c = gonet.dial("tcp", str(ln.addr))
        peer = ln.accept()
        peer.set_linger(0)  # close sends RST
        peer.close()
        gonet.sleep(0.05)
        with pytest.raises(ConnectionResetError) as ei:
            c.read(10)
        c.close()
        ln.close()
        return str(ei.value)

    msg = run(body)
    assert msg.startswith("read tcp 127.0.0.1:") and "reset" in msg.lower()


def test_close_from_another_thread(run):
    import threading

    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        res = {}

        def acceptor():
            try:
                ln.accept()
            except gonet.ClosedError:
                res["closed"] = True

        g = gonet.go(acceptor)
        gonet.sleep(0.01)
        t = threading.Thread(target=ln.close)
        t.start()
        g.join(timeout=5)
        t.join()
        return res

    assert run(body) == {"closed": True}


def test_data_and_eof_in_one_edge(run):
    """A short read that drains the data ahead of a FIN must not hide the EOF."""

    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        out = []
        for parked_first in (True, False):
            c = gonet.dial("tcp", str(ln.addr))
            peer = ln.accept()
            if parked_first:
                g = gonet.go(c.read, 10)
                gonet.sleep(0)
                peer.write(b"abc")
                peer.close()
                first = g.join()
            else:
                peer.write(b"abc")
                peer.close()
                gonet.sleep(0.01)
                first = c.read(10)
            out.append((first, c.read(10), c.read(10)))
            c.close()
        ln.close()
        return out

    assert run(body, timeout=10) == [(b"abc", b"", b"")] * 2


def test_read_later_runs_when_data_arrives(run):
    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        c = gonet.dial("tcp", str(ln.addr))
        peer = ln.accept()
        got = []
        n0 = gonet.num_goroutine()
        g = peer.read_later(lambda: got.append(peer.read(100)))
        gonet.sleep(0.05)
        waiting = (g.state == WAITING, got == [], gonet.num_goroutine() == n0 + 1)
        c.write(b"wake up")
        g.join()
        for x in (c, peer, ln):
            x.close()
        return waiting, got

    assert run(body) == ((True, True, True), [b"wake up"])


def test_read_later_with_data_already_there_runs_at_once(run):
    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        c = gonet.dial("tcp", str(ln.addr))
        peer = ln.accept()
        c.write(b"early")
        gonet.sleep(0.02)  # the poller marks the read side READY
        g = peer.read_later(peer.read, 100)
        out = g.join(timeout=2)
        for x in (c, peer, ln):
            x.close()
        return out

    assert run(body) == b"early"


def test_read_later_deadline_and_close(run):
    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        c = gonet.dial("tcp", str(ln.addr))
        peer = ln.accept()
        errs = []

        def reader(conn):
            try:
                conn.read(10)
            except OSError as e:
                errs.append(type(e).__name__)

        t0 = time.monotonic()
        peer.set_read_deadline(t0 + 0.1)
        peer.read_later(reader, peer).join(timeout=5)
        dt = time.monotonic() - t0
        g = c.read_later(reader, c)
        gonet.sleep(0.01)
        c.close()
        g.join(timeout=5)
        peer.close()
        ln.close()
        return errs, dt

    errs, dt = run(body)
    assert errs == ["DeadlineExceededError", "ClosedError"]
    assert 0.09 <= dt < 1.5


def test_read_later_counts_as_io_wait_for_deadlock_detection(run):
    import threading

    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        raw = socket.create_connection(("127.0.0.1", ln.addr.port))
        peer = ln.accept()
        done = gonet.Chan()
        peer.read_later(lambda: done.send(peer.read(10)))
        # No timer, no parked reader: only the fd waits. A plain thread writes.
        threading.Thread(target=lambda: (time.sleep(0.1), raw.sendall(b"x"))).start()
        out = done.recv()  # must not be reported as a deadlock
        raw.close()
        peer.close()
        ln.close()
        return out

    assert run(body) == b"x"


def test_readiness_wins_over_a_deadline_that_expires_before_the_reader_runs(run):
    # Go's pollWait order: the poller readied the parked reader (data is
    # there), then its deadline passed before the reader ran. The reader must
    # read the data, not time out and leave it with no edge to come.
    from gonet.runtime.sched import RUNNABLE

    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        raw = socket.create_connection(("127.0.0.1", ln.addr.port))
        peer = ln.accept()
        got = []
        expired = []
        stop = []

        def reader():
            try:
                got.append(peer.read(100))
            except OSError as e:
                got.append(e)

        def spinner():
            # Seventy of these keep the run queue longer than one round, so
            # the reader, once the poller readies it, waits behind them; the
            # first to see it runnable expires its deadline.
            while not stop:
                if not expired and r.state == RUNNABLE:
                    peer.set_read_deadline(time.monotonic() - 1)
                    expired.append(1)
                gonet.sleep(0)

        r = gonet.go(reader)
        for _ in range(70):
            gonet.go(spinner)
        gonet.sleep(0.05)
        parked = r.state == WAITING
        raw.sendall(b"ping")
        r.join(timeout=5)
        stop.append(1)
        # The expired deadline still fails the next read before any syscall.
        try:
            peer.read(100)
        except gonet.DeadlineExceededError:
            late = "timeout"
        else:
            late = "read"
        for x in (raw, peer, ln):
            x.close()
        return parked, bool(expired), got, late

    parked, expired, got, late = run(body)
    assert parked and expired  # the race was staged
    assert got == [b"ping"]
    assert late == "timeout"


def test_read_later_after_a_timed_out_read_runs_for_data_that_came_after(run):
    # An idle release: a read times out, data arrives before read_later is
    # called. The edge it left is held as READY, so read_later starts its
    # goroutine at once without looking at the socket itself.
    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        raw = socket.create_connection(("127.0.0.1", ln.addr.port))
        peer = ln.accept()
        peer.set_read_deadline(time.monotonic() + 0.05)
        try:
            peer.read(100)
        except gonet.DeadlineExceededError:
            pass
        raw.sendall(b"late")
        gonet.sleep(0.02)  # the poller sees the edge while nobody waits
        peer.set_read_deadline(time.monotonic() + 5)
        t0 = time.monotonic()
        out = peer.read_later(peer.read, 100).join(timeout=3)
        dt = time.monotonic() - t0
        for x in (raw, peer, ln):
            x.close()
        return out, dt

    out, dt = run(body)
    assert out == b"late"
    assert dt < 1.0


def test_file_listener_serves_a_socket_made_elsewhere(run):
    # Go's FileListener: a listening socket from somewhere else (a parent
    # process, systemd) is taken over on a duplicate; the original stays the
    # caller's.
    raw = socket.socket()
    raw.bind(("127.0.0.1", 0))
    raw.listen(8)
    port = raw.getsockname()[1]

    def body():
        ln = gonet.file_listener(raw)
        assert ln.network == "tcp" and ln.addr.port == port and ln.fileno() != raw.fileno()
        c = gonet.dial("tcp", f"127.0.0.1:{port}")
        s = ln.accept()
        c.write(b"hi")
        got = s.read(10)
        nodelay = s._fd.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        for x in (c, s, ln):
            x.close()
        return got, nodelay

    assert run(body) == (b"hi", 1)
    assert raw.fileno() >= 0  # still open: the caller's copy
    raw.close()


def test_file_listener_refuses_a_socket_that_is_not_listening(run):
    raw = socket.socket()

    def body():
        with pytest.raises(ValueError, match="not listening"):
            gonet.file_listener(raw)

    run(body)
    raw.close()


def test_file_conn_on_a_socketpair_and_a_connected_datagram_socket(run):
    a, b = socket.socketpair()
    u1 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u1.bind(("127.0.0.1", 0))
    u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u2.bind(("127.0.0.1", 0))
    u2.connect(u1.getsockname())

    def body():
        c = gonet.file_conn(a)
        b.sendall(b"ping")
        first = c.read(10)
        c.write(b"pong")
        uc = gonet.file_conn(u2)
        uc.write(b"dgram")
        pc = gonet.file_packet_conn(u1)
        data, addr = pc.read_from(100)
        out = (c.network, first, uc.network, data, addr.port == u2.getsockname()[1])
        for x in (c, uc, pc):
            x.close()
        return out

    assert run(body) == ("unix", b"ping", "udp", b"dgram", True)
    assert b.recv(10) == b"pong"
    for s in (a, b, u1, u2):
        s.close()


def test_listen_socket_needs_no_scheduler_and_words_errors_as_go():
    # For a process supervisor: a plain listening socket, made on a thread
    # that has no gonet scheduler (none may cross a fork).
    import threading

    from gonet.runtime import sched

    box = []

    def plain_thread():
        box.append(gonet.net.listen_socket("tcp", "localhost:0"))  # a name: looked up here
        box.append(getattr(sched.thread_state, "sched", None))

    t = threading.Thread(target=plain_thread)
    t.start()
    t.join()
    s, thread_sched = box
    assert thread_sched is None
    assert s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
    port = s.getsockname()[1]
    with pytest.raises(OSError) as ei:
        gonet.net.listen_socket("tcp", f"127.0.0.1:{port}")
    assert str(ei.value) == f"listen tcp 127.0.0.1:{port}: bind: address already in use"
    assert ei.value.errno == errno.EADDRINUSE
    s.close()


# -- dial with a context; readable_now -------------------------------------------------


def _full_backlog():
    """A listener whose accept queue is full: a connect to it stays in
    progress (its SYNs go unanswered). Returns (port, sockets to close)."""
    ln = socket.socket()
    ln.bind(("127.0.0.1", 0))
    ln.listen(0)
    port = ln.getsockname()[1]
    held = [ln]
    for _ in range(8):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        held.append(s)
    return port, held


def test_dial_context_cancel_aborts_a_connect(run):
    from gonet import context

    port, held = _full_backlog()

    def body():
        ctx, cancel = context.with_cancel(context.background())
        gonet.time.after_func(0.1, cancel)
        t0 = time.monotonic()
        with pytest.raises(OSError) as ei:
            gonet.dial("tcp", f"127.0.0.1:{port}", context=ctx)
        assert time.monotonic() - t0 < 1.5
        assert str(ei.value) == f"dial tcp 127.0.0.1:{port}: operation was canceled"
        ctx2, cancel2 = context.with_timeout(context.background(), 0.1)
        with pytest.raises(TimeoutError, match="i/o timeout"):
            gonet.dial("tcp", f"127.0.0.1:{port}", context=ctx2)
        cancel2()
        with pytest.raises(OSError, match="operation was canceled"):
            gonet.dial("tcp", f"127.0.0.1:{port}", context=ctx)  # done before it starts

    try:
        run(body)
    finally:
        for s in held:
            s.close()


def test_readable_now(run):
    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        c = gonet.dial("tcp", str(ln.addr))
        s = ln.accept()
        assert not c.readable_now()
        s.write(b"x")
        gonet.sleep(0.02)
        assert c.readable_now()
        assert c.read(10) == b"x"
        gonet.sleep(0.02)
        assert not c.readable_now()
        s.close()  # EOF is readable
        gonet.sleep(0.02)
        assert c.readable_now()
        c.close()
        assert c.readable_now()  # a closed conn: a read fails at once
        ln.close()
    run(body)
