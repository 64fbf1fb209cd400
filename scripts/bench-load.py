#!/usr/bin/env python3
"""The rollback endpoint under load (issue 13, P2), beside GET /healthz in
the same run, black box with wrk.

Starts the release server on a fresh data directory with the built-in
plugins, creates and executes P plans of 10 actions (8 client threads),
then drives wrk (T threads, C connections, D seconds) first at
/healthz, then at POST /v1/action_plans/{uuid}/rollback with a different
executed plan per request (every answer durable: a stored rollback plan).
Prints both rates, the rollback's latency percentiles, the ratio, the
count of non-2xx answers (there must be none: P must exceed what D seconds
can use), the server's CPU per rollback by thread, and — with the server
stopped — what the store's own group commit sustains for the same records
at as many writers as connections (`store/examples/group_commit.rs`), with
the endpoint's share of it.

The plans' actions (`--kind`): `migrate` (default) is 10 live migrations
of one instance back and forth (each seeding thread its own instance), so
every rollback asks ten plugin calls and stores ten inverse actions;
`nop` plans invert to an empty plan (nop has no inverse), which leaves the
planner and a one-record write.

    python3 scripts/bench-load.py --bin target/release/rollback-host --plans 12000

With --store mysql://USER@HOST:PORT/DB (an empty database; password in
ROLLBACK_STORE_PASSWORD) the servers keep their plans there; --instances N
starts N of them on it, and the rollbacks are spread over all (one wrk per
instance, the connections and the plans split between them).

    python3 scripts/bench-load.py --plans 3000 --seconds 5 \
        --store mysql://rollback@127.0.0.1:13406/bench --instances 3
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import rbhost
from rbhost import Server

HERE = os.path.dirname(os.path.abspath(__file__))


def call(base, method, path, body=None):
    return rbhost.call(base, method, path, body, timeout=120)[1]


def thread_cpu(pid):
    """CPU seconds used so far by each thread group of `pid`, by thread name
    (digits dropped: sled-io-3 -> sled-io-)."""
    out, tick = {}, os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = re.sub(r"\d+$", "", stat[stat.index("(") + 1:stat.rindex(")")])
        fields = stat[stat.rindex(")") + 2:].split()
        out[name] = out.get(name, 0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def ran_out(rate, seconds, plans):
    """wrk divides what was done by the whole duration; a thread that ran
    out of plans stops early, so a run that used (nearly) every plan
    reports plans/seconds, not the endpoint's rate."""
    if rate * seconds >= 0.97 * plans:
        sys.exit(f"bench-load: every seeded plan was rolled back before the {seconds} s were up, so the "
                 f"rate ({rate:,.0f}/s) is only the cap plans/seconds; seed more (--plans) or shorten --seconds")


def wrk(args, url, script=None, env=None):
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s", "--latency"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, env={**os.environ, **(env or {})}).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rate, pct, int(bad.group(1)) if bad else 0, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default="target/release/rollback-host")
    ap.add_argument("--plugins", default="target/plugins")
    ap.add_argument("--plans", type=int, default=12000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--kind", choices=["migrate", "nop"], default="migrate")
    ap.add_argument("--store-example", default="target/release/examples/group_commit",
                    help="the store's group-commit load (cargo build --release -p rollback-store --example group_commit)")
    ap.add_argument("--dry-run", action="store_true",
                    help="ask for dry runs instead (nothing stored: the cost without the durable write)")
    ap.add_argument("--perf", metavar="FILE", help="perf record the server during the rollback run into FILE")
    ap.add_argument("--store", help="a mysql:// URL: keep the plans there instead of a data directory")
    ap.add_argument("--instances", type=int, default=1, help="with --store: servers sharing it")
    ap.add_argument("--store-compression", choices=["none", "zstd"], default="none",
                    help="the data directory's page compression (serve --store-compression)")
    args = ap.parse_args()
    data = tempfile.mkdtemp(prefix="bench-load-")
    log = open(os.path.join(data, "server.log"), "w")
    env = {"RUST_LOG": "warn", "ROLLBACK_STORE_COMPRESSION": args.store_compression,
           **({"ROLLBACK_STORE": args.store} if args.store else {})}
    servers = [Server(args.bin, os.path.join(data, f"db-{i}"),
                      ["--plugins-dir", args.plugins, "--max-running-plans", "64"], log=log, env=env)
               for i in range(args.instances if args.store else 1)]
    server = servers[0]
    base = server.base
    r_rate = 0.0
    try:
        seeders = 8
        if args.kind == "migrate":
            cloud = call(base, "GET", "/v1/cloud")
            template = next(iter(cloud["instances"].values()))
            for t in range(seeders):
                cloud["instances"][f"00000000-0000-4000-8000-{t:012d}"] = {
                    **template, "name": f"bench-{t}", "host": "compute-1", "status": "ACTIVE"}
            call(base, "PUT", "/v1/cloud", cloud)

        def plan_for(t):
            if args.kind == "nop":
                return {"actions": [{"action_type": "nop", "input_parameters": {"message": f"n{i}"}}
                                    for i in range(10)]}
            hosts = ["compute-1", "compute-2"]
            return {"actions": [{"action_type": "migrate", "parents": [i - 1] if i else [], "input_parameters": {
                "resource_id": f"00000000-0000-4000-8000-{t:012d}", "migration_type": "live",
                "source_node": hosts[i % 2], "destination_node": hosts[(i + 1) % 2]}} for i in range(10)]}

        uuids, lock = [], threading.Lock()

        def seed(t, n):
            plan = plan_for(t)
            for _ in range(n):
                u = call(base, "POST", "/v1/action_plans", plan)["uuid"]
                call(base, "POST", f"/v1/action_plans/{u}/start")
                # The next plan of this thread starts where this one ends.
                while (state := call(base, "GET", f"/v1/action_plans/{u}")["state"]) in ("PENDING", "ONGOING"):
                    time.sleep(0.002)
                if state != "SUCCEEDED":
                    sys.exit(f"bench-load: seeding plan {u} ended {state}")
                with lock:
                    uuids.append(u)

        t0 = time.monotonic()
        workers = [threading.Thread(target=seed, args=(t, args.plans // seeders)) for t in range(seeders)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        for u in uuids:
            while call(base, "GET", f"/v1/action_plans/{u}")["state"] in ("PENDING", "ONGOING"):
                time.sleep(0.05)
        print(f"seeded {len(uuids)} executed 10-action {args.kind} plans in {time.monotonic() - t0:.1f} s", flush=True)
        plans_file = os.path.join(data, "plans.txt")
        with open(plans_file, "w") as f:
            f.write("\n".join(uuids) + "\n")
        if len(servers) > 1:
            print(f"rollbacks spread over {len(servers)} instances on {args.store}", flush=True)
            h_rate, h_pct, h_bad, _ = wrk(args, base + "/healthz")
            results = [None] * len(servers)

            def drive(i):
                part = os.path.join(data, f"plans-{i}.txt")
                with open(part, "w") as f:
                    f.write("\n".join(uuids[i::len(servers)]) + "\n")
                sub = argparse.Namespace(**{**vars(args), "connections": max(1, args.connections // len(servers)),
                                            "threads": 1})
                results[i] = wrk(sub, servers[i].base, os.path.join(HERE, "wrk", "rollback.lua"),
                                 {"PLANS": part, "THREADS": "1", "BODY": "{}"})
            drivers = [threading.Thread(target=drive, args=(i,)) for i in range(len(servers))]
            for d in drivers:
                d.start()
            for d in drivers:
                d.join()
            r_rate = sum(r[0] for r in results)
            ran_out(r_rate, args.seconds, len(uuids))
            p99 = [r[1].get("99") for r in results]
            bad = sum(r[2] for r in results)
            print(f"healthz:  {h_rate:,.0f} req/s (instance 0)")
            print(f"rollback: {r_rate:,.0f} req/s over {len(servers)} instances, p99 per instance {p99}  non-2xx {bad}")
            if bad:
                sys.exit("bench-load: some rollbacks were refused (seed more plans with --plans)")
            return

        h_rate, h_pct, h_bad, _ = wrk(args, base + "/healthz")
        perf = None
        if args.perf:
            perf = subprocess.Popen(["perf", "record", "-p", str(server.pid), "-o", args.perf],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cpu_before = thread_cpu(server.pid)
        r_rate, r_pct, r_bad, out = wrk(args, base, os.path.join(HERE, "wrk", "rollback.lua"),
                                        {"PLANS": plans_file, "THREADS": str(args.threads),
                                         "BODY": '{"dry_run": true}' if args.dry_run else "{}"})
        cpu_after = thread_cpu(server.pid)
        ran_out(r_rate, args.seconds, len(uuids))
        done = r_rate * args.seconds
        cpu = {k: (v - cpu_before.get(k, 0)) / done * 1e6 for k, v in cpu_after.items()}
        if perf:
            perf.send_signal(2)
            perf.wait()
        print(f"healthz:  {h_rate:,.0f} req/s  p50 {h_pct.get('50')} p99 {h_pct.get('99')}  non-2xx {h_bad}")
        print(f"rollback: {r_rate:,.0f} req/s  p50 {r_pct.get('50')} p99 {r_pct.get('99')}  non-2xx {r_bad}")
        print(f"ratio rollback/healthz: {100 * r_rate / h_rate:.1f} %")
        print("server CPU per rollback: " + ", ".join(
            f"{k} {v:.0f} µs" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1]) if v >= 1)
            + f"; total {sum(cpu.values()):.0f} µs")
        if r_bad:
            print(out, file=sys.stderr)
            sys.exit("bench-load: some rollbacks were refused (seed more plans with --plans)")
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(data, ignore_errors=True)
    if args.dry_run or args.store or not os.path.exists(args.store_example):
        return
    # The store alone, same machine, same run, the server stopped: the
    # records one stored rollback writes, at as many writers as connections.
    records = "a plan, 10 actions and the original's link" if args.kind == "migrate" \
        else "a plan and the original's link (0 actions)"
    store = json.loads(subprocess.run(
        [args.store_example, "--writers", str(args.connections), "--seconds", str(args.seconds),
         "--actions", "10" if args.kind == "migrate" else "0",
         *(["--zstd"] if args.store_compression == "zstd" else [])],
        capture_output=True, text=True, check=True).stdout)
    print(f"store group commit ({records}): {store['per_second']:,.0f} writes/s "
          f"p50 {store['p50_ms']:.2f}ms p99 {store['p99_ms']:.2f}ms")
    print(f"ratio rollback/store: {100 * r_rate / store['per_second']:.1f} %")


if __name__ == "__main__":
    main()
