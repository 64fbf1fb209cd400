#!/usr/bin/env python3
"""Times the execution of one N-action plan of `nop`s, black box.

Starts the given rollback-host binary on a free loopback port with a fresh
data directory (on disk, so every fsync is real), creates a plan of N `nop`
actions in the chosen shape, starts it, polls until it finishes, and prints
one line: actions, shape, seconds from start to SUCCEEDED, ms per action,
and the server's peak RSS. The server is stopped before it exits.

    python3 scripts/bench-execute.py --bin target/release/rollback-host \
        --actions 1000 --shape wide

Shapes: `wide` (no parents: all actions are ready at once), `chain` (each
action waits for the one before it).

`--kind migrate` makes the plan one instance migrated back and forth
between two hosts (a chain: each move needs the one before), whose
inverses are real; with `--rollback` the plan's rollback is then timed
twice, as a dry run and stored (issue 13, P3), and the rollback plan's
size printed.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error

import rbhost
from rbhost import Server, ServerError


def call(base, method, path, body=None, timeout=600):
    try:
        return rbhost.call(base, method, path, body, timeout=timeout)[1]
    except urllib.error.HTTPError as e:
        sys.exit(f"bench-execute: {method} {path}: {e.code} {e.read().decode(errors='replace')[:500]}")


def peak_rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--actions", type=int, default=1000)
    ap.add_argument("--shape", choices=["wide", "chain"], default="wide")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--data-parent", default=None, help="where the data dir goes (default: system temp)")
    ap.add_argument("--kind", choices=["nop", "migrate"], default="nop")
    ap.add_argument("--plugins", default="target/plugins", help="the inverters (for --rollback)")
    ap.add_argument("--rollback", action="store_true", help="then time its rollback (dry run, then stored)")
    ap.add_argument("--perf", metavar="FILE", help="perf record -g the server during the rollbacks into FILE")
    args = ap.parse_args()

    data = tempfile.mkdtemp(prefix="bench-execute-", dir=args.data_parent)
    log = open(os.path.join(data, "server.log"), "w")
    try:
        server = Server(args.bin, os.path.join(data, "db"),
                        ["--plugins-dir", args.plugins] if os.path.isdir(args.plugins) else [],
                        log=log, env={"RUST_LOG": "warn"})
    except ServerError as e:
        sys.exit(f"bench-execute: {e}; see {log.name}")
    base = server.base
    try:
        actions = []
        hosts = ["compute-1", "compute-2"]
        for i in range(args.actions):
            if args.kind == "migrate":
                a = {"action_type": "migrate", "input_parameters": {
                    "resource_id": "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01", "migration_type": "live",
                    "source_node": hosts[i % 2], "destination_node": hosts[(i + 1) % 2]}}
            else:
                a = {"action_type": "nop", "input_parameters": {"message": f"n{i}"}}
            if (args.shape == "chain" or args.kind == "migrate") and i > 0:
                a["parents"] = [i - 1]
            actions.append(a)
        c0 = time.monotonic()
        plan = call(base, "POST", "/v1/action_plans", {"actions": actions})["uuid"]
        created = time.monotonic() - c0
        t0 = time.monotonic()
        call(base, "POST", f"/v1/action_plans/{plan}/start")
        state = "PENDING"
        while state in ("PENDING", "ONGOING"):
            if time.monotonic() - t0 > args.timeout:
                sys.exit(f"bench-execute: still {state} after {args.timeout} s")
            time.sleep(0.05)
            state = call(base, "GET", f"/v1/action_plans/{plan}")["state"]
        elapsed = time.monotonic() - t0
        rss = peak_rss_mib(server.pid)
        print(
            f"actions={args.actions} kind={args.kind} shape={args.shape} state={state} create_s={created:.2f} "
            f"seconds={elapsed:.2f} ms_per_action={1000 * elapsed / args.actions:.2f} peak_rss_mib={rss:.0f}"
        )
        if args.rollback:
            perf = None
            if args.perf:
                perf = subprocess.Popen(["perf", "record", "-g", "-q", "-o", args.perf, "-p", str(server.pid)])
                time.sleep(0.5)
            for name, body in (("dry_run", {"dry_run": True}), ("stored", {})):
                r0 = time.monotonic()
                rb = call(base, "POST", f"/v1/action_plans/{plan}/rollback", body)
                took = time.monotonic() - r0
                print(f"rollback={name} inverse_actions={len(rb['actions'])} ms={1000 * took:.0f} "
                      f"peak_rss_mib={peak_rss_mib(server.pid):.0f}")
            if perf:
                perf.send_signal(2)
                perf.wait(timeout=60)
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
