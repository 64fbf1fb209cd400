#!/usr/bin/env python3
"""Kill -9 loop: nothing acknowledged is lost, nothing half-written shows.

Starts the server on one data directory, drives it with concurrent clients
(plan creates, starts, rollbacks with auto_start, plugin uploads), kills it
with SIGKILL at a random moment, restarts it, and checks after every
restart that:
  - every acknowledged plan is there, identical in what never changes
    (uuid, strategy, creation time, its actions' uuids, types, parameters
    and parents), and at least as far along as acknowledged (a started plan
    is not RECOMMENDED);
  - every acknowledged rollback is linked both ways, and no plan has two;
  - no half-written plan is visible (every plan has all its actions);
  - every acknowledged upload is active with its digest.

    python3 tests/system/crash-loop.py target/debug/rollback-host --kills 20

With --store mysql://… --instances N, N instances share one MySQL/MariaDB
database (each its own data directory, 1 s plan leases); the clients spread
over them, and each kill takes one instance at random while the others keep
serving; the checks run through a survivor, and at the end every started
plan must have ended (finished, or settled by a survivor that took it over).
The password comes from ROLLBACK_STORE_PASSWORD.

    python3 tests/system/crash-loop.py target/debug/rollback-host --kills 20 \
        --store mysql://rollback@127.0.0.1:13406/crashloop --instances 3
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import urllib.error

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from rbhost import ROOT, Server, ServerError, call, free_port  # noqa: E402

ACTIONS = 3


class Ledger:
    """What the server acknowledged."""

    def __init__(self):
        self.lock = threading.Lock()
        self.plans = {}        # uuid -> the 201 answer
        self.started = set()   # uuids whose start was answered 200
        self.rollbacks = {}    # original -> rollback uuid
        self.uploads = {}      # action type -> sha256
        self.acked_by = {}     # plan uuid -> (instance base, time.monotonic() of the answer)


def worker(base, ledger, stop, seed):
    rnd = random.Random(seed)
    plugins = {t: open(os.path.join(ROOT, f"target/plugins/{t}.wasm"), "rb").read() for t in ("nop", "stop")}
    mine = []
    while not stop.is_set():
        try:
            op = rnd.random()
            if op < 0.45 or not mine:
                actions = [{"action_type": "nop", "input_parameters": {"message": f"{seed}-{i}"},
                            "parents": [i - 1] if i else []} for i in range(ACTIONS)]
                status, plan = call(base, "POST", "/v1/action_plans", {"actions": actions})
                if status == 201:
                    with ledger.lock:
                        ledger.plans[plan["uuid"]] = plan
                        ledger.acked_by[plan["uuid"]] = (base, time.monotonic())
                    mine.append(plan["uuid"])
            elif op < 0.7:
                uuid = rnd.choice(mine)
                status, _ = call(base, "POST", f"/v1/action_plans/{uuid}/start")
                if status == 200:
                    with ledger.lock:
                        ledger.started.add(uuid)
            elif op < 0.9:
                uuid = rnd.choice(mine)
                status, rb = call(base, "POST", f"/v1/action_plans/{uuid}/rollback", {"auto_start": True})
                if status == 200:
                    with ledger.lock:
                        ledger.rollbacks[uuid] = rb["uuid"]
                        ledger.plans[rb["uuid"]] = rb
                        ledger.acked_by[rb["uuid"]] = (base, time.monotonic())
            else:
                kind = rnd.choice(sorted(plugins))
                status, p = call(base, "PUT", f"/v1/plugins/{kind}", plugins[kind], "application/wasm")
                if status in (200, 201):
                    with ledger.lock:
                        ledger.uploads[kind] = hashlib.sha256(plugins[kind]).hexdigest()
        except urllib.error.HTTPError:
            pass  # refused (e.g. not finished yet, already rolled back): nothing acknowledged
        except (urllib.error.URLError, ConnectionError, OSError, TimeoutError):
            if stop.is_set():
                return
            time.sleep(0.01)


def start(binary, data, port, store=None):
    args = ["--sleep-scale", "0.001"]
    env = None
    if store:
        args += ["--plan-lease-s", "1"]
        env = {"ROLLBACK_STORE": store}
    try:
        server = Server(binary, data, args, port=port, ready_timeout=15, env=env)
    except ServerError as e:
        sys.exit(f"crash-loop: {e}")
    return server, server.base


def immutable(plan):
    return (plan["uuid"], plan.get("strategy_name"), plan.get("created_at"),
            [(a["uuid"], a["action_type"], json.dumps(a["input_parameters"], sort_keys=True), sorted(a["parents"]))
             for a in plan.get("actions", [])])


def verify(base, ledger):
    problems = []
    plans = {}
    marker = None
    while True:
        q = "/v1/action_plans/detail?limit=1000" + (f"&marker={marker}" if marker else "")
        _, page = call(base, "GET", q)
        for p in page["action_plans"]:
            plans[p["uuid"]] = p
        if not page.get("next"):
            break
        marker = page["action_plans"][-1]["uuid"]
    _, acts = call(base, "GET", "/v1/actions/detail?limit=1000")
    actions = {}
    while True:
        for a in acts["actions"]:
            actions.setdefault(a["action_plan_uuid"], []).append(a)
        if not acts.get("next"):
            break
        _, acts = call(base, "GET", "/v1/actions/detail?limit=1000&marker=" + acts["actions"][-1]["uuid"])
    for uuid, p in plans.items():
        got = actions.get(uuid, [])
        if p["strategy_name"] == "manual" and len(got) != ACTIONS:
            problems.append(f"plan {uuid} is half-written: {len(got)} of {ACTIONS} actions")
        for a in got:
            if any(parent not in {x['uuid'] for x in got} for parent in a["parents"]):
                problems.append(f"plan {uuid}: action {a['uuid']} names a missing parent")
    with ledger.lock:
        acked = dict(ledger.plans)
        started = set(ledger.started)
        rollbacks = dict(ledger.rollbacks)
        uploads = dict(ledger.uploads)
    for uuid, answer in acked.items():
        if uuid not in plans:
            problems.append(f"acknowledged plan {uuid} is missing")
            continue
        stored = dict(plans[uuid], actions=sorted(actions.get(uuid, []), key=lambda a: a["uuid"]))
        answer = dict(answer, actions=sorted(answer.get("actions", []), key=lambda a: a["uuid"]))
        if immutable(stored) != immutable(answer):
            problems.append(f"acknowledged plan {uuid} changed")
    for uuid in started:
        if uuid in plans and plans[uuid]["state"] == "RECOMMENDED":
            problems.append(f"plan {uuid} was started (acknowledged) but is RECOMMENDED")
    for original, rb in rollbacks.items():
        if plans.get(original, {}).get("rolled_back_by") != rb or plans.get(rb, {}).get("rollback_of") != original:
            problems.append(f"rollback {original} -> {rb} is not linked both ways")
    by = {}
    for p in plans.values():
        if p.get("rollback_of"):
            by.setdefault(p["rollback_of"], []).append(p["uuid"])
    for original, rbs in by.items():
        if len(rbs) > 1:
            problems.append(f"plan {original} has {len(rbs)} rollbacks: {rbs}")
    for kind, sha in uploads.items():
        try:
            _, p = call(base, "GET", f"/v1/plugins/{kind}")
            if p["sha256"] != sha:
                problems.append(f"upload {kind}: active {p['sha256']} != acknowledged {sha}")
        except urllib.error.HTTPError as e:
            problems.append(f"acknowledged upload {kind} is missing ({e.code})")
    return problems, len(plans)


def settled(base, ledger, within):
    """Problems: started plans still not ended after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        with ledger.lock:
            started = set(ledger.started) | set(ledger.rollbacks.values())
        running = []
        for uuid in sorted(started):
            try:
                _, p = call(base, "GET", f"/v1/action_plans/{uuid}")
            except urllib.error.HTTPError:
                continue
            if p["state"] in ("PENDING", "ONGOING", "CANCELLING"):
                running.append(f"started plan {uuid} never ended: {p['state']}")
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.5)


def many(args):
    """N instances on one MySQL store, one killed at a time."""
    rnd = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="crash-loop-")
    ledger = Ledger()
    failures = 0
    n = args.instances
    datas = [os.path.join(work, f"data-{i}") for i in range(n)]
    servers = [start(args.binary, datas[i], free_port(), args.store)[0] for i in range(n)]
    try:
        for kill in range(1, args.kills + 1):
            stop = threading.Event()
            threads = [threading.Thread(target=worker, args=(servers[i % n].base, ledger, stop,
                                                             args.seed * 100 + kill * 10 + i))
                       for i in range(args.clients)]
            for t in threads:
                t.start()
            time.sleep(rnd.uniform(0.2, 1.5))
            victim = rnd.randrange(n)
            servers[victim].kill()
            time.sleep(rnd.uniform(0.0, 0.5))  # the others serve alone meanwhile
            stop.set()
            for t in threads:
                t.join()
            servers[victim] = start(args.binary, datas[victim], free_port(), args.store)[0]
            # Uploads reach every instance within the sync interval (2 s).
            time.sleep(2.5)
            survivor = servers[(victim + 1) % n]
            problems, count = verify(survivor.base, ledger)
            if problems:
                failures += len(problems)
                print(f"after kill {kill}: {len(problems)} problems", flush=True)
                for p in problems[:20]:
                    print("  " + p, flush=True)
            print(f"kill {kill:2d} (instance {victim}): {count} plans, {len(ledger.plans)} acknowledged so far",
                  flush=True)
        problems = settled(servers[0].base, ledger, within=30)
        failures += len(problems)
        for p in problems[:20]:
            print("  " + p)
        problems, count = verify(servers[0].base, ledger)
        failures += len(problems)
        for p in problems[:20]:
            print("  " + p)
        with ledger.lock:
            print(f"crash-loop: {args.kills} kills of {n} instances on one database (seed {args.seed}); "
                  f"acknowledged: {len(ledger.plans)} plans, {len(ledger.started)} starts, "
                  f"{len(ledger.rollbacks)} rollbacks, {len(ledger.uploads)} upload types; "
                  f"{count} plans at the end; {failures} problems")
    finally:
        for s in servers:
            s.kill()
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failures else 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary", nargs="?", default=os.path.join(ROOT, "target/debug/rollback-host"))
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--store", help="a mysql:// URL shared by --instances instances")
    ap.add_argument("--instances", type=int, default=3)
    args = ap.parse_args()
    if args.store:
        return many(args)
    rnd = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="crash-loop-")
    data = os.path.join(work, "data")
    ledger = Ledger()
    failures = 0
    try:
        for kill in range(1, args.kills + 1):
            port = free_port()
            server, base = start(args.binary, data, port)
            problems, count = verify(base, ledger)
            if problems:
                failures += len(problems)
                print(f"after restart {kill - 1}: {len(problems)} problems", flush=True)
                for p in problems[:20]:
                    print("  " + p, flush=True)
            stop = threading.Event()
            threads = [threading.Thread(target=worker, args=(base, ledger, stop, args.seed * 100 + kill * 10 + i))
                       for i in range(args.clients)]
            for t in threads:
                t.start()
            time.sleep(rnd.uniform(0.2, 1.5))
            server.kill()
            stop.set()
            for t in threads:
                t.join()
            print(f"kill {kill:2d}: {count} plans before it, {len(ledger.plans)} acknowledged so far", flush=True)
        server, base = start(args.binary, data, port)
        problems, count = verify(base, ledger)
        server.stop()
        failures += len(problems)
        for p in problems[:20]:
            print("  " + p)
        with ledger.lock:
            print(f"crash-loop: {args.kills} kills (seed {args.seed}); acknowledged: {len(ledger.plans)} plans, "
                  f"{len(ledger.started)} starts, {len(ledger.rollbacks)} rollbacks, {len(ledger.uploads)} upload types; "
                  f"{count} plans at the end; {failures} problems")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
