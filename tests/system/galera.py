#!/usr/bin/env python3
"""Three instances on a three-node Galera cluster, one node killed under load.

scripts/galera.sh starts the cluster (DIR/env names its nodes); instance i
keeps its store on node i (one database, replicated). Clients spread over
the three instances create, start and roll back plans and upload plugins
(the kill -9 loop's workers, tests/system/crash-loop.py): writes through
different nodes race; the losers are refused at commit or find the lock
row moved on, and are run again (Galera alone lets a write overwrite what
another node committed after it read: without the store's compare-and-set,
about one run in three of this test lost two acknowledged plans to one
id). After a while node 3 is killed (SIGKILL). Checked:
  - the instances on nodes 1 and 2 keep serving: no request to them fails
    once the cluster has dropped node 3 (the errors and the stall while it
    does are reported);
  - nothing acknowledged (by any instance, before or after the loss) is
    lost or changed, as seen through both survivors;
  - every started plan ends (the plans of the instance on the dead node are
    taken over by the others when their leases lapse).

    python3 tests/system/galera.py target/debug/rollback-host target/galera
"""
import argparse
import importlib.util
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
from rbhost import ROOT, Server, free_port  # noqa: E402

spec = importlib.util.spec_from_file_location("crash_loop", os.path.join(HERE, "crash-loop.py"))
crash_loop = importlib.util.module_from_spec(spec)
spec.loader.exec_module(crash_loop)

# Every request the workers make: (instance base, start time, seconds, outcome).
RECORD = []
RECORD_LOCK = threading.Lock()
_call = crash_loop.call


def timed_call(base, method, path, body=None, ctype="application/json", timeout=30, headers=None):
    t0 = time.monotonic()
    outcome = "ok"
    try:
        return _call(base, method, path, body, ctype, timeout=timeout, headers=headers)
    except urllib.error.HTTPError as e:
        outcome = e.code
        raise
    except Exception as e:  # noqa: BLE001 - recorded, then passed on
        outcome = type(e).__name__
        raise
    finally:
        with RECORD_LOCK:
            RECORD.append((base, t0, time.monotonic() - t0, outcome))


crash_loop.call = timed_call


def env_of(path):
    out = {}
    for line in open(path):
        if line.startswith("export "):
            k, v = line[len("export "):].strip().split("=", 1)
            out[k] = v.strip('"')
    return out


def summary(rows):
    if not rows:
        return "no requests"
    lat = sorted(r[2] * 1000 for r in rows)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]  # noqa: E731
    fails = [r for r in rows if r[3] not in ("ok",) and not (isinstance(r[3], int) and r[3] < 500)]
    return (f"{len(rows)} requests, p50 {statistics.median(lat):.1f} ms, p99 {p(0.99):.1f} ms, "
            f"max {lat[-1]:.0f} ms, {len(fails)} failed")


# The store's debug lines name each committed write's lock-row version.
LOG_FILTER = "info,rollback_store::mysql::txn=debug"
COMMITTED = re.compile(r"store write committed .*\bversion=(\d+) .*\bok=true")


def shared_versions(work, n):
    """Problems: lock-row versions two committed writes both started from
    (a lost update: writes are not serialized across the nodes)."""
    seen, landed = {}, 0
    for i in range(n):
        for line in open(os.path.join(work, f"instance-{i}.log"), errors="replace"):
            landed += "but the write landed" in line
            m = COMMITTED.search(line)
            if m:
                seen.setdefault(m.group(1), []).append(i + 1)
    twice = {v: who for v, who in seen.items() if len(who) > 1}
    print(f"galera: {sum(len(w) for w in seen.values())} committed writes, "
          f"{len(twice)} lock-row versions committed over twice, {landed} refused at COMMIT yet landed")
    return [f"two writes committed over lock-row version {v} (instances {who})" for v, who in sorted(twice.items())]


def explain_missing(missing, servers, nodes, ledger, killed_at, env):
    """For each acknowledged plan a listing missed: which instance answered
    it and when (relative to the kill), what a direct GET through each
    survivor says, and which tables of the surviving nodes hold it."""
    out = []
    for uuid in sorted(missing):
        with ledger.lock:
            base, at = ledger.acked_by.get(uuid, (None, killed_at))
        who = next((i + 1 for i, s in enumerate(servers) if s.base == base), "?")
        gets = []
        for s in servers[:2]:
            try:
                status, _ = _call(s.base, "GET", f"/v1/action_plans/{uuid}")
            except urllib.error.HTTPError as e:
                status = e.code
            gets.append(str(status))
        rows = []
        for node in nodes[:2]:
            host, port = node.split("@")[1].split(":")
            hexid = uuid.replace("-", "")
            q = (f"SELECT (SELECT COUNT(*) FROM rollback_plans WHERE uuid = UNHEX('{hexid}')), "
                 f"(SELECT COUNT(*) FROM rollback_actions WHERE action_plan_uuid = UNHEX('{hexid}')), "
                 f"(SELECT COUNT(*) FROM rollback_sort WHERE uuid = UNHEX('{hexid}'))")
            r = subprocess.run(["mysql", "--no-defaults", "-N", "-h", host, "-P", port, "-u", "rollback",
                                "galera_test", "-e", q], capture_output=True, text=True,
                               env={**os.environ, "MYSQL_PWD": env["ROLLBACK_STORE_PASSWORD"]})
            rows.append(r.stdout.strip().replace("\t", "/") or r.stderr.strip()[:80])
        out.append(f"  {uuid}: acknowledged by instance {who} {at - killed_at:+.2f} s from the kill; "
                   f"GET through survivors: {', '.join(gets)}; plan/actions/sort rows on nodes 1, 2: {rows}")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary", nargs="?", default=os.path.join(ROOT, "target/debug/rollback-host"))
    ap.add_argument("cluster", nargs="?", default=os.path.join(ROOT, "target/galera"))
    ap.add_argument("--before", type=float, default=5.0, help="seconds of load before the kill")
    ap.add_argument("--after", type=float, default=25.0, help="seconds of load after it")
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--no-kill", action="store_true", help="no node is killed (for comparison)")
    args = ap.parse_args()
    env = env_of(os.path.join(args.cluster, "env"))
    nodes = env["ROLLBACK_TEST_GALERA"].split()
    os.environ["ROLLBACK_STORE_PASSWORD"] = env["ROLLBACK_STORE_PASSWORD"]
    host, port = nodes[0].split("@")[1].split(":")
    subprocess.run(["mysql", "--no-defaults", "-h", host, "-P", port, "-u", "rollback", "-e",
                    "DROP DATABASE IF EXISTS galera_test; CREATE DATABASE galera_test"],
                   env={**os.environ, "MYSQL_PWD": env["ROLLBACK_STORE_PASSWORD"]}, check=True)
    work = tempfile.mkdtemp(prefix="galera-")
    servers = []
    for i, node in enumerate(nodes):
        servers.append(Server(args.binary, os.path.join(work, f"data-{i}"),
                              ["--sleep-scale", "0.001", "--plan-lease-s", "12"], port=free_port(),
                              env={"ROLLBACK_STORE": f"{node}/galera_test", "RUST_LOG": LOG_FILTER},
                              log=open(os.path.join(work, f"instance-{i}.log"), "w")))
    ledger = crash_loop.Ledger()
    stop = threading.Event()
    threads = [threading.Thread(target=crash_loop.worker, args=(servers[i % 3].base, ledger, stop, 1000 + i))
               for i in range(args.clients)]
    problems = []
    try:
        for t in threads:
            t.start()
        time.sleep(args.before)
        killed_at = time.monotonic()
        if not args.no_kill:
            subprocess.run(["bash", os.path.join(ROOT, "scripts/galera.sh"), "kill", args.cluster, "3"], check=True)
        time.sleep(args.after)
        stop.set()
        for t in threads:
            t.join()
        survivors = [s.base for s in servers[:2]]
        with RECORD_LOCK:
            rows = list(RECORD)
        before = [r for r in rows if r[0] in survivors and r[1] + r[2] < killed_at]
        # Galera drops a node it lost after its suspect timeout (5 s by
        # default) and a view change; writes wait meanwhile. "After" starts
        # once the survivors answered again.
        during = [r for r in rows if r[0] in survivors and r[1] + r[2] >= killed_at]
        back = min((r[1] + r[2] for r in during if r[1] >= killed_at and r[3] == "ok"), default=None)
        if back is None:
            problems.append("the surviving instances never answered a request after node 3 was killed")
            back = float("inf")
        during = [r for r in during if r[1] < back]
        after = [r for r in rows if r[0] in survivors and r[1] >= back]
        dead = [r for r in rows if r[0] == servers[2].base and r[1] >= killed_at]
        if back != float("inf"):
            print(f"galera: the survivors answered again {back - killed_at:.1f} s after node 3 was killed")
        print(f"galera: instances on nodes 1-2 before the kill: {summary(before)}")
        print(f"galera: instances on nodes 1-2 until they answered again: {summary(during)}")
        print(f"galera: instances on nodes 1-2 after that: {summary(after)}")
        print(f"galera: the instance on the dead node after the kill: {summary(dead)}")
        if len(after) < 20:
            problems.append(f"the surviving instances served only {len(after)} requests after the node loss")
        late_failures = [r for r in after if not (r[3] == "ok" or (isinstance(r[3], int) and r[3] < 500))]
        if late_failures:
            problems.append(f"{len(late_failures)} requests to the surviving instances failed after the cluster "
                            f"dropped node 3: {sorted({str(r[3]) for r in late_failures})}")
        problems += crash_loop.settled(servers[0].base, ledger, within=45)
        problems += shared_versions(work, len(servers))
        missing = set()
        for s in servers[:2]:
            found, count = crash_loop.verify(s.base, ledger)
            problems += [f"through {s.base}: {p}" for p in found]
            missing |= {p.split()[2] for p in found if p.startswith("acknowledged plan ") and p.endswith(" is missing")}
        with ledger.lock:
            print(f"galera: acknowledged {len(ledger.plans)} plans, {len(ledger.started)} starts, "
                  f"{len(ledger.rollbacks)} rollbacks; {count} plans seen through each survivor; "
                  f"{len(problems)} problems")
        for p in problems[:20]:
            print("  " + p)
        for line in explain_missing(missing, servers, nodes, ledger, killed_at, env):
            print(line)
        if problems:
            print(f"galera: the instances' logs are in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    finally:
        stop.set()
        for s in servers:
            s.kill()
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
