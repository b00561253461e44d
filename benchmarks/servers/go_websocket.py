"""Benchmark reference (WebSocket): a Go echo on net/http's Hijack on one core
(GOMAXPROCS=1), goroutine per WebSocket, frames read and written by hand
(standard library only, so the build needs no module download; it echoes
unfragmented frames, enough for this load). Built with the machine's ``go``
into ``benchmarks/.build/``; without ``go`` the row shows as not available.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from _common import server_args, unavailable

GO_SOURCE = """package main

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net/http"
	"os"
)

const guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func echo(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if key == "" {
		http.Error(w, "not a websocket upgrade", http.StatusBadRequest)
		return
	}
	sum := sha1.Sum([]byte(key + guid))
	conn, brw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	brw.WriteString("HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\n" +
		"Connection: Upgrade\\r\\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(sum[:]) + "\\r\\n\\r\\n")
	if brw.Flush() != nil {
		return
	}
	rd := brw.Reader
	var hdr [10]byte
	var mask [4]byte
	out := make([]byte, 0, 4096)
	for {
		if _, err := io.ReadFull(rd, hdr[:2]); err != nil {
			return
		}
		op := hdr[0] & 0x0f
		n := uint64(hdr[1] & 0x7f)
		if n == 126 {
			if _, err := io.ReadFull(rd, hdr[2:4]); err != nil {
				return
			}
			n = uint64(binary.BigEndian.Uint16(hdr[2:4]))
		} else if n == 127 {
			if _, err := io.ReadFull(rd, hdr[2:10]); err != nil {
				return
			}
			n = binary.BigEndian.Uint64(hdr[2:10])
		}
		if hdr[1]&0x80 == 0 || n > 1<<20 {
			return
		}
		if _, err := io.ReadFull(rd, mask[:]); err != nil {
			return
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(rd, payload); err != nil {
			return
		}
		for i := range payload {
			payload[i] ^= mask[i%4]
		}
		if op == 8 {
			conn.Write([]byte{0x88, 0})
			return
		}
		if op == 9 {
			op = 10
		}
		out = append(out[:0], 0x80|op)
		if n < 126 {
			out = append(out, byte(n))
		} else if n < 65536 {
			out = append(out, 126, byte(n>>8), byte(n))
		} else {
			var b [8]byte
			binary.BigEndian.PutUint64(b[:], n)
			out = append(append(out, 127), b[:]...)
		}
		out = append(out, payload...)
		if _, err := conn.Write(out); err != nil {
			return
		}
	}
}

func main() {
	if err := http.ListenAndServe(os.Args[1], http.HandlerFunc(echo)); err != nil {
		panic(err)
	}
}
"""

go = shutil.which("go")
if go is None:
    unavailable("go is not installed")
a = server_args()
build = Path(__file__).resolve().parent.parent / ".build" / "go-websocket"
build.mkdir(parents=True, exist_ok=True)
(build / "main.go").write_text(GO_SOURCE)
if not (build / "go.mod").exists():
    subprocess.run([go, "mod", "init", "gowebsocket"], cwd=build, check=True, capture_output=True)
r = subprocess.run([go, "build", "-o", "server", "."], cwd=build, capture_output=True, text=True)
if r.returncode != 0:
    unavailable(f"go build failed: {r.stderr.strip()[:200]}")
os.environ["GOMAXPROCS"] = "1"
os.execv(str(build / "server"), [str(build / "server"), f"{a.host}:{a.port}"])
sys.exit(1)
