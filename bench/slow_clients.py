"""Slow clients against the production stack (nginx in front of gunicorn) and against bare gunicorn.

Starts the stack with deploy/stack.sh on a throw-away SQLite database (tests/production/stack.py),
opens N connections that send their headers (or, in the second run, their body) one byte a second,
and meanwhile probes GET /healthz on fresh connections; then does the same against gunicorn with
the same config and no nginx, sync workers and gthread workers. Loopback only.

    .venv/bin/python bench/slow_clients.py [--connections 200] [--seconds 12] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.production.stack import (  # noqa: E402
    SLOW_BODY,
    SLOW_HEADERS,
    SlowClients,
    free_port,
    percentile,
    probe_series,
    started,
)


def measure(addr: tuple[str, int], connections: int, seconds: float, attack: tuple[bytes, bytes]) -> dict:
    """Probe /healthz for `seconds` while `connections` slow clients are connected."""
    with SlowClients(addr, connections, *attack):
        results = probe_series(addr, seconds, timeout=1.0)
    ok = [r for r in results if r is not None]
    return {
        "probes": len(results), "answered": len(ok),
        "p50_ms": round(percentile(ok, 50) * 1000, 1) if ok else None,
        "p99_ms": round(percentile(ok, 99) * 1000, 1) if ok else None,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--connections", type=int, default=200)
    p.add_argument("--seconds", type=float, default=12)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    attacks = {"headers": SLOW_HEADERS, "body": SLOW_BODY}
    rows = []
    with started() as stack:
        for name, attack in attacks.items():
            rows.append({"server": "nginx -> gunicorn sync x2", "slow": name,
                         **measure(stack.addr, args.connections, args.seconds, attack)})
        for label, extra in [("gunicorn sync x2, bare", []), ("gunicorn gthread x2x8, bare", ["--threads", "8"])]:
            port = free_port()
            proc = stack.bare_gunicorn(port, *extra)
            try:
                for name, attack in attacks.items():
                    rows.append({"server": label, "slow": name,
                                 **measure(("127.0.0.1", port), args.connections, args.seconds, attack)})
            finally:
                proc.terminate()
                proc.wait(30)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{args.connections} slow connections, /healthz probed for {args.seconds:g} s each (1 s timeout)")
        print(f"{'server':30} {'slow':8} {'answered':>12} {'p50 ms':>8} {'p99 ms':>8}")
        for r in rows:
            p50, p99 = (("-" if r[k] is None else r[k]) for k in ("p50_ms", "p99_ms"))
            print(f"{r['server']:30} {r['slow']:8} {r['answered']:>5} of {r['probes']:<4} {p50:>8} {p99:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
