"""gonet's benchmark suite: gonet side by side with its peers, one run, one machine.

Layer: tooling outside the library (imports nothing from gonet; every server
runs in its own process). Run it as ``python -m benchmarks [--quick]
[--only NAME,...] [--servers NAME,...]``.

Modules:

- ``specs``: the catalogue of servers and self-timing programs (one script
  each under ``servers/``), and which Python packages each one needs.
- ``procs``: starting a server process, waiting for its port, reading its
  RSS, stopping it.
- ``loadgen``: the load generators: ``wrk`` for HTTP (or the bundled C client
  when wrk is missing), the bundled C client (``c/loadgen.c``, compiled into
  ``.build/`` on first use) for TCP echo and for holding idle connections.
- ``scenarios``: the scenario kinds and the registry; adding a scenario is a
  few lines at the bottom of that module.
- ``report``: tables with gonet's ratio to each peer, ``results/latest.json``
  and the PNG chart, with the machine they ran on.
- ``runner``: the command line.
"""
