"""Benchmark subject (TCP echo): gonet.listen/accept/read/write, one goroutine per connection."""

from _common import server_args, unavailable

try:
    import gonet

    gonet.listen  # noqa: B018 - the net API
except (ImportError, AttributeError) as e:
    unavailable(f"gonet.listen not available yet ({e})")


def handle(c) -> None:
    try:
        while True:
            data = c.read(65536)
            if not data:
                break
            c.write(data)
    except OSError:
        pass
    finally:
        c.close()


def main(host: str, port: int) -> None:
    ln = gonet.listen("tcp", f"{host}:{port}")
    while True:
        gonet.go(handle, ln.accept())


a = server_args()
main(a.host, a.port)
