"""Regression tests for bugs found in review; each failed before its fix."""

from __future__ import annotations

import socket
import time

from gonet.http.httptest import TestServer


def _recv_until_eof(s: socket.socket) -> bytes:
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_short_body_against_declared_content_length_closes_the_connection():
    # Go: a handler that writes less than its declared Content-Length gets the
    # connection closed after the response, or the client (waiting for the
    # missing bytes) would read the next response as this one's body.
    def handler(w, r):
        w.header().set("Content-Length", "10")
        w.write(b"hello")

    with TestServer(handler) as ts:
        s = socket.create_connection(("127.0.0.1", ts.port), timeout=3)
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        data = _recv_until_eof(s)  # socket.timeout here: the server kept it open
        s.close()
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Length: 10\r\n" in data
    assert data.endswith(b"\r\n\r\nhello")


def test_read_timeout_bounds_the_request_head_when_read_header_timeout_is_none():
    # Go: ReadHeaderTimeout zero -> ReadTimeout applies to the head; the
    # docstring: read_timeout runs from the start of a request.
    with TestServer(lambda w, r: w.write(b"x"), read_header_timeout=None, read_timeout=0.5) as ts:
        s = socket.create_connection(("127.0.0.1", ts.port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")  # never finished
        t0 = time.monotonic()
        data = _recv_until_eof(s)
        dt = time.monotonic() - t0
        s.close()
    assert data == b""
    assert dt < 3.0


def test_sleep_cut_short_by_an_exception_does_not_wake_a_later_park(run):
    # A goroutine's SystemExit is handed to main while main sleeps; main
    # catches it and joins a worker. The abandoned sleep's timer must not
    # ready main in the middle of that join (join would return early).
    from gonet.runtime.sched import go, sleep

    def body():
        def quitter():
            raise SystemExit(3)

        go(quitter)
        try:
            sleep(0.2)
        except SystemExit:
            pass
        else:
            raise AssertionError("SystemExit was not delivered to main")

        def worker():
            sleep(0.6)
            return "done"

        g = go(worker)
        assert g.join() == "done"
        assert g.done()

    run(body)


def test_graceful_shutdown_closes_a_connection_with_only_part_of_a_request_head():
    # Go: a connection is active once a whole request head is read; one that
    # has sent part of the next head is idle and shutdown closes it, rather
    # than waiting (up to read_header_timeout, or forever) for the client.
    with TestServer(lambda w, r: w.write(b"hi")) as ts:
        s = socket.create_connection(("127.0.0.1", ts.port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200 OK")
        s.sendall(b"GET / HTTP/1.1\r\nHost")
        time.sleep(0.1)
        t0 = time.monotonic()
        assert ts.shutdown(3.0) is True
        assert time.monotonic() - t0 < 1.0
        assert _recv_until_eof(s) == b""
        s.close()


def test_read_later_after_a_timed_out_read_still_sees_data_already_there(run):
    # The poller readies a parked reader (consuming the edge), but the run
    # queue is long and the read deadline fires before the reader runs: the
    # read times out with the data unread. read_later must not then wait for
    # an edge that already came: it would sleep until the next deadline.
    import gonet
    from gonet.runtime.sched import RUNNABLE, WAITING, go, sleep

    def body():
        ln = gonet.listen("tcp", "127.0.0.1:0")
        client = socket.create_connection(("127.0.0.1", ln.addr.port))
        conn = ln.accept()
        stop = []
        first = []
        got = []

        def resumed():
            try:
                got.append(conn.read(100))
            except OSError as e:
                got.append(e)

        def reader():
            conn.set_read_deadline(time.monotonic() + 0.3)
            try:
                first.append(conn.read(100))
            except gonet.DeadlineExceededError as e:
                first.append(e)
            conn.set_read_deadline(time.monotonic() + 5.0)
            conn.read_later(resumed)

        sent = []
        hogged = []

        def spinner():
            # Each goroutine in the queue: once the reader is parked, send it
            # data; the first to run after the poller readied the reader (so
            # the reader is behind 60 others in the run queue) blocks the
            # thread past the read deadline.
            while not stop:
                if not sent and r.state == WAITING:
                    sent.append(1)
                    client.sendall(b"ping")
                elif sent and not hogged and r.state == RUNNABLE:
                    hogged.append(1)
                    time.sleep(0.5)
                sleep(0)

        for _ in range(70):
            go(spinner)
        r = go(reader)
        sleep(1.5)
        stop.append(1)
        sleep(0.01)
        conn.close()
        sleep(0.05)
        client.close()
        ln.close()
        return first, got

    first, got = run(body)
    assert isinstance(first[0], gonet.DeadlineExceededError)  # the race was staged
    assert got == [b"ping"]


def test_blocking_call_cut_short_by_an_exception_does_not_wake_a_later_park(run):
    # Like the sleep case: main is parked in a thread-pool call when a
    # goroutine's SystemExit is handed to it. When the call finishes later,
    # its completion must not ready main inside an unrelated park.
    from gonet.runtime.sched import go, sleep
    from gonet.runtime.threadpool import blocking

    def body():
        def quitter():
            raise SystemExit(3)

        go(quitter)
        try:
            blocking(time.sleep, 0.2)
        except SystemExit:
            pass
        else:
            raise AssertionError("SystemExit was not delivered to main")

        def worker():
            sleep(0.6)
            return "done"

        g = go(worker)
        assert g.join() == "done"
        assert g.done()

    run(body)
