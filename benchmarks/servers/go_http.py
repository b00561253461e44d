"""Benchmark peer server (HTTP): Go's net/http hello on one core (GOMAXPROCS=1).

The target the client scenario prefers: it is not the bottleneck. Built with
the machine's ``go`` into ``benchmarks/.build/``; without ``go`` the row
shows as not available.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from _common import server_args, unavailable

GO_SOURCE = """package main

import (
	"net/http"
	"os"
	"time"
)

func main() {
	hello := []byte("Hello, World!")
	srv := &http.Server{
		Addr:        os.Args[1],
		IdleTimeout: 300 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write(hello)
		}),
	}
	if err := srv.ListenAndServe(); err != nil {
		panic(err)
	}
}
"""

go = shutil.which("go")
if go is None:
    unavailable("go is not installed")
a = server_args()
build = Path(__file__).resolve().parent.parent / ".build" / "go-http"
build.mkdir(parents=True, exist_ok=True)
(build / "main.go").write_text(GO_SOURCE)
if not (build / "go.mod").exists():
    subprocess.run([go, "mod", "init", "gohttp"], cwd=build, check=True, capture_output=True)
r = subprocess.run([go, "build", "-o", "server", "."], cwd=build, capture_output=True, text=True)
if r.returncode != 0:
    unavailable(f"go build failed: {r.stderr.strip()[:200]}")
os.environ["GOMAXPROCS"] = "1"
os.execv(str(build / "server"), [str(build / "server"), f"{a.host}:{a.port}"])
sys.exit(1)
