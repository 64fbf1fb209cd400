#!/usr/bin/python3
"""The seed's story on real OpenStack, and what real Nova and Ironic say.

Runs against the cloud scripts/openstack.sh started (Debian 12's Keystone,
Nova with three fake computes, Ironic fake-hardware, Watcher 9, ...): the
rollback-host binary serves with `--driver openstack` as the `rollback`
service user. Each test leaves the cloud as it found it (or fails).

    /usr/bin/python3 tests/system/openstack-story.py target/debug/rollback-host target/openstack [TEST...]

Debian's interpreter: it has openstacksdk. Prints a transcript of the story
(audit -> import -> start -> rollback) to target/test-output/openstack-story.txt.
"""
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error

import openstack

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from rbhost import ROOT, Server, call, wait_for_plan  # noqa: E402

HOSTS = ["compute-1", "compute-2", "compute-3"]
TRANSCRIPT = []


def load_env(dir):
    env = {}
    for line in open(os.path.join(dir, "env")):
        k, _, v = line.strip().partition("=")
        env[k] = v.strip("'")
    return env


class Cloud:
    """The admin's view of the real cloud (openstacksdk)."""

    def __init__(self, env, dir):
        self.env = env
        self.dir = dir
        self.c = openstack.connect(
            auth_url=env["OS_AUTH_URL"], username=env["OS_USERNAME"], password=env["OS_PASSWORD"],
            project_name=env["OS_PROJECT_NAME"], user_domain_name="Default", project_domain_name="Default",
            region_name="RegionOne", compute_api_version="2.56", baremetal_api_version="1.72")
        self.hypervisors = json.loads(env["OS_HYPERVISORS"])
        self.servers = json.loads(env["OS_SERVERS"])  # name -> id
        self.watcher = self.c.session.get_endpoint(service_type="infra-optim", interface="public")

    def snapshot(self):
        """What the tests compare: each server's host, flavor and status,
        each compute service's status and reason, each node's power."""
        servers = {}
        for name, sid in self.servers.items():
            s = self.c.compute.get_server(sid)
            servers[name] = (s.compute_host, s.flavor.get("original_name"), s.status)
        services = {s.host: (s.status, s.disabled_reason) for s in self.c.compute.services(binary="nova-compute")}
        nodes = {n.name: n.power_state for n in self.c.baremetal.nodes(details=True)}
        return {"servers": servers, "services": services, "nodes": nodes}

    def host_of(self, name):
        return self.c.compute.get_server(self.servers[name]).compute_host

    def service(self, host, enabled, reason=None):
        svc = next(s for s in self.c.compute.services(binary="nova-compute") if s.host == host)
        if enabled:
            self.c.compute.enable_service(svc)
        else:
            self.c.compute.disable_service(svc, disabled_reason=reason)

    def live_migrate(self, name, host):
        """Moves a server by hand (drift, or putting things back), waits."""
        sid = self.servers[name]
        self.c.compute.live_migrate_server(sid, host=host, block_migration="auto")
        until = time.monotonic() + 120
        while time.monotonic() < until:
            s = self.c.compute.get_server(sid)
            if s.task_state is None and s.status == "ACTIVE" and s.compute_host == host:
                return
            time.sleep(1)
        raise AssertionError(f"{name} did not reach {host}: {s.status} on {s.compute_host}")

    def settle_model(self):
        """Watcher's decision engine reads the cloud every 5 s."""
        time.sleep(7)

    def sql(self, statement):
        """One statement on Watcher's database (to make what no audit makes)."""
        subprocess.run(["mysql", "--no-defaults", "-S", os.path.join(self.dir, "mysql.sock"), "-uroot", "watcher",
                        "-e", statement], check=True, capture_output=True)

    def wait_for_watcher(self, plan, timeout=120):
        """Until Watcher's applier is done with `plan`."""
        until = time.monotonic() + timeout
        while True:
            _, p = self.w("GET", f"/v1/action_plans/{plan}")
            if p["state"] in ("SUCCEEDED", "FAILED", "CANCELLED", "SUPERSEDED"):
                return p
            assert time.monotonic() < until, f"Watcher's plan {plan} still {p['state']}"
            time.sleep(1)

    # Watcher, over the admin's session.
    def w(self, method, path, body=None, ok=(200, 201, 202, 204)):
        r = self.c.session.request(self.watcher + path, method, json=body, raise_exc=False,
                                   headers={"OpenStack-API-Version": "infra-optim 1.0"})
        if r.status_code not in ok:
            raise AssertionError(f"Watcher {method} {path}: {r.status_code} {r.text}")
        return r.status_code, (r.json() if r.text else None)

    def audit(self, goal, strategy, parameters=None, expect_actions=None):
        """A ONESHOT audit; its action plan (waits for both)."""
        for _ in range(4):
            body = {"audit_type": "ONESHOT", "goal": goal, "strategy": strategy}
            if parameters:
                body["parameters"] = parameters
            _, audit = self.w("POST", "/v1/audits", body)
            until = time.monotonic() + 120
            while True:
                _, a = self.w("GET", f"/v1/audits/{audit['uuid']}")
                if a["state"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                    break
                assert time.monotonic() < until, f"audit {audit['uuid']} still {a['state']}"
                time.sleep(1)
            assert a["state"] == "SUCCEEDED", f"audit {a}"
            _, plans = self.w("GET", f"/v1/action_plans?audit_uuid={audit['uuid']}")
            plan = plans["action_plans"][0]
            _, acts = self.w("GET", f"/v1/actions/detail?action_plan_uuid={plan['uuid']}")
            if expect_actions is None or len(acts["actions"]) == expect_actions:
                return plan, acts["actions"]
            # The decision engine's model was older than the cloud: again.
            self.w("PATCH", f"/v1/action_plans/{plan['uuid']}",
                   [{"op": "replace", "path": "/state", "value": "CANCELLED"}])
            time.sleep(6)
        raise AssertionError(f"Watcher's plan never had {expect_actions} actions: {acts['actions']}")


class Host:
    """rollback-host --driver openstack on a fresh store."""

    def __init__(self, binary, env, log_dir, store=None):
        self.binary = binary
        self.env = {k: v for k, v in env.items() if k.startswith("OS_")}
        self.env.update({"OS_USERNAME": env["ROLLBACK_OS_USERNAME"], "OS_PROJECT_NAME": env["ROLLBACK_OS_PROJECT"],
                         "RUST_LOG": "info"})
        if store:
            # A MySQL store on the cloud's own MariaDB (its `os` user shares the cloud's password).
            self.env.update({"ROLLBACK_STORE": store, "ROLLBACK_STORE_PASSWORD": env["OS_PASSWORD"]})
        self.dir = tempfile.mkdtemp(prefix="rb-os-")
        self.log = open(os.path.join(log_dir, "openstack-story-host.log"), "a")
        self.server = None
        self.start()

    def start(self):
        args = ["--plugins-dir", os.path.join(ROOT, "target/plugins"), "--driver", "openstack",
                "--os-poll-interval", "0.5"]
        self.server = Server(self.binary, os.path.join(self.dir, "store"), args, env=self.env, log=self.log,
                             ready_timeout=60)
        self.base = self.server.base

    def api(self, method, path, body=None, expect=None):
        try:
            status, doc = call(self.base, method, path, body, timeout=60,
                               headers={"OpenStack-API-Version": "infra-optim 1.5"})
        except urllib.error.HTTPError as e:
            status, doc = e.code, json.loads(e.read() or b"null")
            # Watcher's error shape: the fault is JSON text in error_message.
            if isinstance(doc, dict) and isinstance(doc.get("error_message"), str):
                doc = json.loads(doc["error_message"])
        if expect is not None:
            assert status == expect, f"{method} {path}: {status} {doc}"
        return status, doc

    def cli(self, *args, env=None, record=True):
        cmd = [self.binary, *args]
        full_env = {**os.environ, "ROLLBACK_URL": self.base, "NO_COLOR": "1", **(env or {})}
        out = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=600)
        if record:
            TRANSCRIPT.append(f"$ rollback-host {shlex.join(args)}\n{out.stdout}{out.stderr}(exit {out.returncode})\n")
        return out

    def run(self, actions, rollback=False):
        """Creates a plan, starts it, waits; the plan and its actions."""
        _, plan = self.api("POST", "/v1/action_plans", {"actions": actions}, expect=201)
        self.api("POST", f"/v1/action_plans/{plan['uuid']}/start", expect=200)
        return self.finish(plan["uuid"])

    def finish(self, uuid, timeout=300):
        plan = wait_for_plan(self.base, uuid, timeout=timeout)
        _, acts = self.api("GET", f"/v1/actions/detail?action_plan_uuid={uuid}", expect=200)
        return plan, acts["actions"]

    def roll_back(self, uuid, **options):
        _, rb = self.api("POST", f"/v1/action_plans/{uuid}/rollback", {"auto_start": True, **options}, expect=200)
        return self.finish(rb["uuid"])


def by_type(actions, t):
    return [a for a in actions if a["action_type"] == t]


# -- the tests ---------------------------------------------------------------

def test_host_maintenance_from_watcher_is_imported_executed_and_rolled_back(cloud, host):
    start = cloud.snapshot()
    assert all(h == "compute-1" for h, _, _ in start["servers"].values()), start
    cloud.settle_model()
    wplan, wactions = cloud.audit("cluster_maintaining", "host_maintenance",
                                  {"maintenance_node": "compute-1"}, expect_actions=4)
    TRANSCRIPT.append(f"# Watcher's audit (host_maintenance on compute-1) recommended plan {wplan['uuid']}:\n"
                      + "".join(f"#   {a['uuid'][:8]} {a['action_type']} {json.dumps(a['input_parameters'])} "
                                f"after {[p[:8] for p in a['parents']]}\n" for a in wactions))
    # Watcher 9's shape: hosts by compute node uuid, a migration after two.
    disable = by_type(wactions, "change_nova_service_state")[0]
    assert disable["input_parameters"]["resource_id"] == cloud.hypervisors["compute-1"], disable
    migrations = by_type(wactions, "migrate")
    assert all(m["input_parameters"]["source_node"] == cloud.hypervisors["compute-1"] for m in migrations)
    assert any(len(m["parents"]) == 2 for m in migrations), "fan-in after fan-out"

    out = host.cli("plan", "import", wplan["uuid"])
    assert out.returncode == 0, out
    _, mine = host.api("GET", f"/v1/action_plans/{wplan['uuid']}", expect=200)
    src = mine["source"]
    assert (src["action_plan_uuid"], src["audit_uuid"], src["strategy_name"], src["goal_name"], src["watcher_state"]) \
        == (wplan["uuid"], wplan["audit_uuid"], "host_maintenance", "cluster_maintaining", "CANCELLED"), src
    _, stored = host.api("GET", f"/v1/actions/detail?action_plan_uuid={wplan['uuid']}", expect=200)
    assert {(a["uuid"], a["action_type"], json.dumps(a["input_parameters"], sort_keys=True), tuple(sorted(a["parents"])))
            for a in stored["actions"]} == \
        {(a["uuid"], a["action_type"], json.dumps(a["input_parameters"], sort_keys=True), tuple(sorted(a["parents"])))
         for a in wactions}, "imported faithfully"
    # The same plan as Watcher and this service list it: the same fields
    # (a list without /detail has no input_parameters in either).
    for path in (f"/v1/actions?action_plan_uuid={wplan['uuid']}", f"/v1/actions/detail?action_plan_uuid={wplan['uuid']}"):
        _, theirs = cloud.w("GET", path)
        _, ours = host.api("GET", path, expect=200)
        for t, o in zip(sorted(theirs["actions"], key=lambda a: a["uuid"]), sorted(ours["actions"], key=lambda a: a["uuid"])):
            missing = set(t) - set(o) - {"action_plan_id"}
            assert not missing, f"{path}: Watcher shows {missing}, this service does not: {o}"
            assert ("input_parameters" in t) == ("input_parameters" in o), (path, t, o)
    # Watcher will not run it now, and it is not imported twice.
    _, w = cloud.w("GET", f"/v1/action_plans/{wplan['uuid']}")
    assert w["state"] == "CANCELLED", w
    status, _ = cloud.w("PATCH", f"/v1/action_plans/{wplan['uuid']}",
                        [{"op": "replace", "path": "/state", "value": "PENDING"}], ok=(400,))
    status, doc = host.api("POST", "/v1/action_plans/import", {"action_plan_uuid": wplan["uuid"]})
    assert status == 409 and "imported already" in doc["faultstring"], (status, doc)

    out = host.cli("plan", "start", wplan["uuid"], "--wait")
    assert out.returncode == 0, out
    during = cloud.snapshot()
    assert during["services"]["compute-1"] == ("disabled", "watcher_maintaining"), during
    assert all(h != "compute-1" for h, _, _ in during["servers"].values()), during
    _, done = host.api("GET", f"/v1/actions/detail?action_plan_uuid={wplan['uuid']}", expect=200)
    for a in by_type(done["actions"], "migrate"):
        name = a["input_parameters"]["resource_name"]
        assert a["pre_state"] == {"host": "compute-1"}, a
        assert a["result"] == {"host": during["servers"][name][0]}, (a, during)
    out = host.cli("plan", "show", wplan["uuid"])
    assert "compute-1" in out.stdout and "host_maintenance" in out.stdout, out.stdout

    out = host.cli("plan", "rollback", wplan["uuid"], "--start", "--wait")
    assert out.returncode == 0, out
    after = cloud.snapshot()
    assert after == start, f"not as at the start:\n{after}\n{start}"
    out = host.cli("plan", "rollback", wplan["uuid"], record=False)
    assert out.returncode != 0 and "rolled back" in out.stderr, out


def test_import_refuses_plans_watcher_runs_or_has_not_recommended(cloud, host):
    # A plan Watcher's own applier ran (the dummy strategy's nop and sleep).
    wplan, _ = cloud.audit("dummy", "dummy")
    cloud.w("PATCH", f"/v1/action_plans/{wplan['uuid']}", [{"op": "replace", "path": "/state", "value": "PENDING"}])
    status, doc = host.api("POST", "/v1/action_plans/import", {"action_plan_uuid": wplan["uuid"]})
    assert status == 409 and "only a RECOMMENDED plan" in doc["faultstring"], (status, doc)
    status, doc = host.api("GET", f"/v1/action_plans/{wplan['uuid']}")
    assert status == 404, "nothing stored"
    cloud.wait_for_watcher(wplan["uuid"])  # Watcher audits nothing while it runs a plan
    # No such plan in Watcher.
    status, doc = host.api("POST", "/v1/action_plans/import",
                           {"action_plan_uuid": "00000000-0000-4000-8000-000000000000"})
    assert status == 404 and "Watcher has no action plan" in doc["faultstring"], (status, doc)
    # An action type the OpenStack driver has no executor for (no strategy
    # of Watcher 9 here emits one: one action's type is changed in
    # Watcher's database): refused, naming it, and Watcher's plan untouched.
    wplan, wactions = cloud.audit("dummy", "dummy")
    odd = wactions[0]["uuid"]
    cloud.sql(f"UPDATE actions SET action_type = 'volume_snapshot' WHERE uuid = '{odd}'")
    status, doc = host.api("POST", "/v1/action_plans/import", {"action_plan_uuid": wplan["uuid"]})
    assert status == 400 and odd in doc["faultstring"] and "volume_snapshot" in doc["faultstring"], (status, doc)
    _, w = cloud.w("GET", f"/v1/action_plans/{wplan['uuid']}")
    assert w["state"] == "RECOMMENDED", f"a refused import changed Watcher's plan: {w}"
    assert host.api("GET", f"/v1/action_plans/{wplan['uuid']}")[0] == 404, "nothing stored"
    # A RECOMMENDED dummy plan imports (nop, sleep) and runs here.
    wplan, _ = cloud.audit("dummy", "dummy")
    status, doc = host.api("POST", "/v1/action_plans/import", {"action_plan_uuid": wplan["uuid"], "auto_start": True})
    assert status == 201, (status, doc)
    plan, _ = host.finish(wplan["uuid"])
    assert plan["state"] == "SUCCEEDED", plan


def test_drift_is_skipped_with_its_reason(cloud, host):
    start = cloud.snapshot()
    plan, acts = host.run([{"action_type": "migrate", "input_parameters": {
        "resource_id": cloud.servers["vm-1"], "resource_name": "vm-1", "migration_type": "live",
        "source_node": "compute-1", "destination_node": "compute-2"}}])
    assert plan["state"] == "SUCCEEDED", (plan, acts)
    cloud.live_migrate("vm-1", "compute-3")  # drift
    rb, racts = host.roll_back(plan["uuid"])
    (a,) = racts
    assert a["state"] in ("SKIPPED", "FAILED") and "compute-3" in a["status_message"], a
    assert cloud.host_of("vm-1") == "compute-3", "the rollback did not act on a drifted server"
    cloud.live_migrate("vm-1", "compute-1")
    assert cloud.snapshot() == start


def test_novas_refusals_come_with_novas_reasons(cloud, host):
    start = cloud.snapshot()
    # At once: an unknown host (HTTP 400 from Nova, with its request id).
    plan, (a,) = host.run([{"action_type": "migrate", "input_parameters": {
        "resource_id": cloud.servers["vm-1"], "migration_type": "live",
        "source_node": "compute-1", "destination_node": "compute-9"}}])
    assert a["state"] == "FAILED" and "Compute host compute-9 could not be found." in a["status_message"], a
    assert "req-" in a["status_message"], a
    # After a 202: no host the scheduler may choose.
    cloud.service("compute-2", False, "test")
    cloud.service("compute-3", False, "test")
    try:
        plan, (a,) = host.run([{"action_type": "migrate", "input_parameters": {
            "resource_id": cloud.servers["vm-1"], "migration_type": "live", "source_node": "compute-1"}}])
    finally:
        cloud.service("compute-2", True)
        cloud.service("compute-3", True)
    assert a["state"] == "FAILED", a
    assert "No valid host was found" in a["status_message"] and "req-" in a["status_message"], a
    assert cloud.snapshot() == start


def test_a_kill_during_a_live_migration_is_reconciled(cloud, host):
    start = cloud.snapshot()
    _, plan = host.api("POST", "/v1/action_plans", {"actions": [{"action_type": "migrate", "input_parameters": {
        "resource_id": cloud.servers["vm-2"], "resource_name": "vm-2", "migration_type": "live",
        "source_node": "compute-1", "destination_node": "compute-2"}}]}, expect=201)
    host.api("POST", f"/v1/action_plans/{plan['uuid']}/start", expect=200)
    until = time.monotonic() + 60
    while True:
        _, acts = host.api("GET", f"/v1/actions/detail?action_plan_uuid={plan['uuid']}", expect=200)
        if acts["actions"][0]["state"] == "ONGOING":
            break
        assert time.monotonic() < until, acts
        time.sleep(0.1)
    time.sleep(1)  # Nova is moving it now
    host.server.kill()
    host.start()
    done, (a,) = host.finish(plan["uuid"])
    assert cloud.host_of("vm-2") == "compute-2", f"the fake driver finished the migration: {a}"
    assert a["state"] == "SUCCEEDED" and a["result"] == {"host": "compute-2"}, a
    rb, racts = host.roll_back(plan["uuid"])
    assert rb["state"] == "SUCCEEDED", (rb, racts)
    assert cloud.snapshot() == start


def test_the_power_off_guard_counts_a_server_migrated_seconds_before(cloud, host):
    start = cloud.snapshot()
    plan, acts = host.run([
        {"action_type": "migrate", "input_parameters": {
            "resource_id": cloud.servers["vm-3"], "resource_name": "vm-3", "migration_type": "live",
            "source_node": "compute-1", "destination_node": "compute-3"}},
        {"action_type": "change_node_power_state", "input_parameters": {
            "resource_id": "compute-3", "resource_name": "compute-3", "state": "off"}, "parents": [0]},
    ])
    migrate, power = by_type(acts, "migrate")[0], by_type(acts, "change_node_power_state")[0]
    assert migrate["state"] == "SUCCEEDED", migrate
    assert power["state"] == "FAILED" and "vm-3" in power["status_message"], power
    assert "will NOT be shut off" in power["status_message"], power
    assert cloud.snapshot()["nodes"]["compute-3"] == "power on"
    rb, racts = host.roll_back(plan["uuid"], allow_partial=True)
    assert rb["state"] == "SUCCEEDED", (rb, racts)
    now = cloud.snapshot()
    assert now == start, f"{now}\n{start}\n{racts}"


def test_a_resize_is_rolled_back_to_its_host_and_flavor(cloud, host):
    start = cloud.snapshot()
    plan, (a,) = host.run([{"action_type": "resize", "input_parameters": {
        "resource_id": cloud.servers["vm-1"], "resource_name": "vm-1", "flavor": "rb.medium"}}])
    assert a["state"] == "SUCCEEDED", a
    moved_to = cloud.host_of("vm-1")
    assert moved_to != "compute-1", "real Nova resizes onto another host"
    assert a["result"] == {"flavor": "rb.medium", "host": moved_to}, a
    rb, (r,) = host.roll_back(plan["uuid"])
    assert r["input_parameters"]["destination_node"] == "compute-1", r
    assert rb["state"] == "SUCCEEDED", (rb, r)
    assert cloud.snapshot() == start


def test_the_cli_says_when_the_catalog_endpoint_is_watcher(cloud, host):
    # No `rollback` entry in this catalog: `infra-optim` is the real Watcher.
    env = {k: v for k, v in cloud.env.items() if k.startswith("OS_")}
    out = subprocess.run([host.binary, "plan", "list"], capture_output=True, text=True,
                         env={**{k: v for k, v in os.environ.items() if k != "ROLLBACK_URL"}, **env})
    assert out.returncode != 0, out
    assert "is not rollback-host" in out.stderr and "Watcher" in out.stderr, out.stderr


def test_one_import_of_simultaneous_requests_over_three_instances(cloud, host):
    # Three instances sharing one MySQL store (a database on the cloud's
    # MariaDB); twelve imports of one Watcher plan at once, spread over them.
    import threading
    cloud.sql("DROP DATABASE IF EXISTS rollback_shared")
    cloud.sql("CREATE DATABASE rollback_shared")
    store = "mysql://os@127.0.0.1:13306/rollback_shared"
    hosts = [Host(host.binary, cloud.env, os.path.join(ROOT, "target/test-output"), store=store) for _ in range(3)]
    try:
        wplan, _ = cloud.audit("dummy", "dummy")
        answers = [None] * 12
        barrier = threading.Barrier(12)

        def one(i):
            barrier.wait()
            answers[i] = hosts[i % 3].api("POST", "/v1/action_plans/import", {"action_plan_uuid": wplan["uuid"]})
        threads = [threading.Thread(target=one, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(s for s, _ in answers)
        assert statuses.count(201) == 1, statuses
        assert set(statuses) <= {201, 409}, answers
        for h in hosts:
            status, plan = h.api("GET", f"/v1/action_plans/{wplan['uuid']}")
            assert status == 200 and plan["state"] == "RECOMMENDED", (status, plan)
        _, listed = hosts[1].api("GET", "/v1/action_plans?limit=100", expect=200)
        assert len(listed["action_plans"]) == 1, listed
        _, w = cloud.w("GET", f"/v1/action_plans/{wplan['uuid']}")
        assert w["state"] == "CANCELLED", w
    finally:
        for h in hosts:
            h.server.stop()


TESTS = [v for k, v in list(globals().items()) if k.startswith("test_")]


def main():
    binary, dir = sys.argv[1], sys.argv[2]
    wanted = sys.argv[3:]
    env = load_env(dir)
    out_dir = os.path.join(ROOT, "target/test-output")
    os.makedirs(out_dir, exist_ok=True)
    cloud = Cloud(env, dir)
    host = Host(binary, env, out_dir)
    failed = []
    try:
        for t in TESTS:
            if wanted and not any(w in t.__name__ for w in wanted):
                continue
            t0 = time.monotonic()
            try:
                t(cloud, host)
                print(f"ok    {t.__name__} ({time.monotonic() - t0:.0f} s)", flush=True)
            except Exception:
                failed.append(t.__name__)
                print(f"FAIL  {t.__name__} ({time.monotonic() - t0:.0f} s)\n{traceback.format_exc()}", flush=True)
    finally:
        host.server.stop()
        with open(os.path.join(out_dir, "openstack-story.txt"), "w") as f:
            f.write("\n".join(TRANSCRIPT))
    print(f"{len(failed)} failed: {failed}" if failed else "all passed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
