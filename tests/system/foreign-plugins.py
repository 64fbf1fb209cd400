#!/usr/bin/env python3
"""Inverters written in Python outside this repository, as a user would:
`rollback-host plugin new --lang python` in a temporary directory, the
inverter written, built with componentize-py (scripts/plugin-toolchains.sh
installs it), checked offline, uploaded to a running server, a plan executed
and rolled back with it. Then a hostile Python plugin (the raw bindings, no
SDK) that spins, allocates without end, answers too much or garbage, reads
files, the environment, sockets and the clock, and floods the log: each
contained with its reason, the server answering other requests meanwhile.

    tests/system/foreign-plugins.py target/debug/rollback-host

The transcript (commands and their output) goes to
target/test-output/foreign-plugins.txt.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "scripts"))
from rbhost import ROOT, Server, call, wait_for_plan  # noqa: E402

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/debug/rollback-host"))
VENV_BIN = os.path.join(ROOT, "target/plugin-venv/bin")
TRANSCRIPT = os.path.join(ROOT, "target/test-output/foreign-plugins.txt")
failures = []
log = []


def sh(cmd, cwd=None, input=None, ok=True):
    """Runs a command like a user at a shell, recording it and its output."""
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ["PATH"])
    started = time.monotonic()
    p = subprocess.run(cmd, cwd=cwd, input=input, env=env, capture_output=True, text=True, timeout=600)
    took = time.monotonic() - started
    log.append(f"$ {' '.join(cmd)}    # {took:.1f} s, exit {p.returncode}\n{p.stdout}{p.stderr}")
    if ok and p.returncode != 0:
        raise AssertionError(f"{cmd} exited {p.returncode}: {p.stdout}{p.stderr}")
    return p


def test(fn):
    try:
        fn()
        print(f"ok   {fn.__name__}")
    except Exception as e:  # report every failure, then fail the run
        failures.append(fn.__name__)
        print(f"FAIL {fn.__name__}: {type(e).__name__}: {e}")


INVERTER = '''
"""Undoes set_metadata: sets the key back to what it was."""
from rollback_sdk import Executed, Inverse, InvalidInput, inverter

SCHEMA = {
    "type": "object",
    "properties": {
        "resource_id": {"type": "string", "minLength": 1},
        "key": {"type": "string", "minLength": 1},
        "value": {"type": ["string", "null"]},
        "previous": {"type": ["string", "null"]},
    },
    "required": ["resource_id", "key", "value", "previous"],
    "additionalProperties": False,
}


@inverter("set_metadata", version="1.0.0", description="Sets the key back to its previous value.", schema=SCHEMA)
def invert(action: Executed) -> list:
    resource = action.param_str("resource_id")
    key = action.param_str("key")
    if "value" not in action.input_parameters or "previous" not in action.input_parameters:
        raise InvalidInput("value and previous are required")
    value, previous = action.param("value"), action.param("previous")
    print(f"set_metadata: {resource} {key} back to {previous!r}")
    if value == previous:
        return []
    return [Inverse("set_metadata", {"resource_id": resource, "key": key, "value": previous, "previous": value},
                    expecting=action.result, description=f"Set {key} of {resource} back to {previous!r}")]
'''

INVERTER_TEST = '''
import unittest

import inverter
from rollback_sdk import Executed, InvalidInput


class SetMetadataTest(unittest.TestCase):
    def test_sets_the_previous_value_back(self):
        a = Executed("set_metadata", {"resource_id": "vm", "key": "k", "value": "new", "previous": "old"})
        [inv] = inverter.invert(a)
        self.assertEqual(inv.input_parameters, {"resource_id": "vm", "key": "k", "value": "old", "previous": "new"})

    def test_nothing_to_undo_when_unchanged(self):
        a = Executed("set_metadata", {"resource_id": "vm", "key": "k", "value": "v", "previous": "v"})
        self.assertEqual(inverter.invert(a), [])

    def test_a_missing_field_is_invalid_input(self):
        with self.assertRaises(InvalidInput):
            inverter.invert(Executed("set_metadata", {"resource_id": "vm"}))


if __name__ == "__main__":
    unittest.main()
'''

# A hostile plugin: the raw componentize-py bindings, no SDK.
HOSTILE = '''
import json
from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import log, types

SCHEMA = {"type": "object", "properties": {"mode": {"type": "string"}}, "required": ["mode"]}


def nop(message):
    return [types.InverseAction("nop", json.dumps({"message": message}), [], "", "{}", False)]


class Inverter(exports.Inverter):
    def metadata(self):
        return types.PluginMetadata("hostile_py", "0.0.1", "misbehaves on purpose", json.dumps(SCHEMA))

    def invert(self, action):
        mode = json.loads(action.input_parameters)["mode"]
        if mode == "fine":
            return nop("fine")
        if mode == "spin":
            while True:
                pass
        if mode == "bomb":
            hoard = []
            while True:
                hoard.append(bytearray(1 << 20))
        if mode == "recurse":
            def down(n):
                return down(n + 1) + 1
            return nop(str(down(0)))
        if mode == "huge":
            return nop("x" * (4 << 20))
        if mode == "many":
            return nop("m") * 5000
        if mode == "bad_json":
            return [types.InverseAction("nop", "{not json", [], "", "{}", False)]
        if mode == "files":
            return nop(open("/etc/passwd").read())
        if mode == "env":
            import os
            return nop(json.dumps(dict(os.environ)))
        if mode == "socket":
            import socket
            socket.create_connection(("127.0.0.1", 22)).send(b"x")
            return nop("connected")
        if mode == "clock":
            import time
            return nop(str(time.time()))
        if mode == "print":
            print("hello")
            return nop("printed")
        if mode == "log_flood":
            for i in range(2000):
                log.log(log.Level.ERROR, f"flood {i}")
            return nop("flooded")
        raise Err(types.InvertError_NotInvertible("unknown mode " + mode))


class BatchInverter(exports.BatchInverter):
    def invert_batch(self, actions):
        out = []
        for a in actions:
            try:
                out.append(Ok(Inverter().invert(a)))
            except Err as e:
                out.append(Err(e.value))
        return out
'''

work = tempfile.mkdtemp(prefix="rollback-foreign-")
built = {}


def test_python_from_plugin_new_to_a_rolled_back_plan():
    project = os.path.join(work, "set_metadata")
    sh([BIN, "plugin", "new", "set_metadata", "--lang", "python", "--dir", project])
    for f in ("app.py", "rollback_sdk.py", "rollback_component.py", "wit/rollback.wit", "inverter.py",
              "test_inverter.py", "build.sh", "README.md"):
        assert os.path.exists(os.path.join(project, f)), f
    # The template refuses until written: its own test says so.
    sh([sys.executable, "-m", "unittest", "-q"], cwd=project)
    with open(os.path.join(project, "inverter.py"), "w") as f:
        f.write(INVERTER)
    with open(os.path.join(project, "test_inverter.py"), "w") as f:
        f.write(INVERTER_TEST)
    sh(["./build.sh"], cwd=project)
    wasm = os.path.join(project, "set_metadata.wasm")
    built["python"] = wasm
    p = sh([BIN, "plugin", "check", wasm, "--json"])
    report = json.loads(p.stdout)
    assert report["action_type"] == "set_metadata" and report["plugin_version"] == "1.0.0", report
    action = {"input_parameters": {"resource_id": "vm-1", "key": "owner", "value": "qa", "previous": "ops"},
              "pre_state": {}, "result": {"owner": "qa"}}
    p = sh([BIN, "plugin", "invert", wasm, "--plugin-compile", "baseline"], input=json.dumps(action))
    [inv] = json.loads(p.stdout)
    assert inv["input_parameters"]["value"] == "ops" and inv["expected_state"] == {"owner": "qa"}, inv

    data = os.path.join(work, "data")
    with Server(BIN, data, []) as server:
        sh([BIN, "plugin", "add", wasm, "--url", server.base])
        _, plugins = call(server.base, "GET", "/v1/plugins")
        assert any(p["action_type"] == "set_metadata" for p in plugins["plugins"]), plugins
        params = {"resource_id": "vm-1", "key": "owner", "value": "qa", "previous": "ops"}
        _, plan = call(server.base, "POST", "/v1/action_plans",
                       {"actions": [{"action_type": "set_metadata", "input_parameters": params, "parents": []}]})
        call(server.base, "POST", f"/v1/action_plans/{plan['uuid']}/start")
        assert wait_for_plan(server.base, plan["uuid"])["state"] == "SUCCEEDED"
        status, rb = call(server.base, "POST", f"/v1/action_plans/{plan['uuid']}/rollback", {}, timeout=60)
        assert status == 200, rb
        [undo] = rb["actions"]
        assert undo["action_type"] == "set_metadata", undo
        assert undo["input_parameters"] == {"resource_id": "vm-1", "key": "owner", "value": "ops", "previous": "qa"}, undo
        call(server.base, "POST", f"/v1/action_plans/{rb['uuid']}/start")
        assert wait_for_plan(server.base, rb["uuid"])["state"] == "SUCCEEDED"
        # A plan with a field the plugin's schema does not allow is refused.
        try:
            call(server.base, "POST", "/v1/action_plans",
                 {"actions": [{"action_type": "set_metadata", "input_parameters": {"resource_id": "vm-1"}, "parents": []}]})
            raise AssertionError("a plan missing required fields was accepted")
        except urllib.error.HTTPError as e:
            assert e.code == 400, e.code


def test_a_hostile_python_plugin_is_contained_and_the_server_keeps_answering():
    project = os.path.join(work, "hostile_py")
    sh([BIN, "plugin", "new", "hostile_py", "--lang", "python", "--dir", project])
    with open(os.path.join(project, "app.py"), "w") as f:
        f.write(HOSTILE)
    sh([os.path.join(VENV_BIN, "componentize-py"), "-d", "wit", "-w", "plugin", "componentize", "app",
        "-o", "hostile_py.wasm", "--stub-wasi"], cwd=project)
    wasm = os.path.join(project, "hostile_py.wasm")
    data = os.path.join(work, "data-hostile")
    cases = [
        ("spin", "exceeded its CPU deadline"),
        ("bomb", "exceeded its memory limit"),
        ("recurse", "trapped"),
        ("huge", "too much data is being copied"),
        ("many", "too much output"),
        ("bad_json", "invalid output"),
        ("files", "trapped"),
        ("socket", "trapped"),
        ("clock", "trapped"),
        ("print", "trapped"),
    ]
    with Server(BIN, data, []) as server:
        sh([BIN, "plugin", "add", wasm, "--url", server.base])

        def executed(mode):
            _, plan = call(server.base, "POST", "/v1/action_plans", {"actions": [
                {"action_type": "hostile_py", "input_parameters": {"mode": mode}, "parents": []}]})
            call(server.base, "POST", f"/v1/action_plans/{plan['uuid']}/start")
            assert wait_for_plan(server.base, plan["uuid"])["state"] == "SUCCEEDED"
            return plan["uuid"]

        def rollback(uuid):
            try:
                return call(server.base, "POST", f"/v1/action_plans/{uuid}/rollback", {}, timeout=60)
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read() or b"null")

        # Other requests keep being answered while the plugin misbehaves.
        stop = threading.Event()
        answered = []

        def poll():
            while not stop.is_set():
                status, _ = call(server.base, "GET", "/v1/action_plans?limit=1")
                answered.append(status)
                time.sleep(0.01)

        poller = threading.Thread(target=poll)
        poller.start()
        try:
            for mode, cause in cases:
                uuid = executed(mode)
                status, body = rollback(uuid)
                text = json.dumps(body)
                log.append(f"hostile_py {mode}: HTTP {status} {text[:400]}")
                assert status == 422 and "plugin `hostile_py`" in text and cause in text, (mode, status, text[:600])
                _, plan = call(server.base, "GET", f"/v1/action_plans/{uuid}")
                assert plan["rolled_back_by"] is None, plan
        finally:
            stop.set()
            poller.join()
        assert answered and all(s == 200 for s in answered), answered[-5:]
        # No environment and no log flood get through; the plugin still works.
        for mode, expected in (("env", "{}"), ("log_flood", "flooded"), ("fine", "fine")):
            status, rb = rollback(executed(mode))
            assert status == 200, (mode, rb)
            assert rb["actions"][0]["input_parameters"]["message"] == expected, (mode, rb["actions"][0])
        _, health = call(server.base, "GET", "/healthz")
        assert health["status"] == "ok", health


for t in (test_python_from_plugin_new_to_a_rolled_back_plan,
          test_a_hostile_python_plugin_is_contained_and_the_server_keeps_answering):
    test(t)
os.makedirs(os.path.dirname(TRANSCRIPT), exist_ok=True)
with open(TRANSCRIPT, "w") as f:
    f.write("\n".join(log))
shutil.rmtree(work, ignore_errors=True)
if failures:
    print(f"foreign-plugins: {len(failures)} failed: {', '.join(failures)} (transcript: {TRANSCRIPT})")
    sys.exit(1)
print(f"foreign-plugins: all passed (transcript: {TRANSCRIPT})")
