#!/usr/bin/env python3
"""Inverters written in Python and JavaScript outside this repository, as a
user would: `rollback-host plugin new --lang python|javascript` in a
temporary directory, the inverter written, tested natively, built with
componentize-py / componentize-js (scripts/plugin-toolchains.sh installs
them), checked and run offline, uploaded to a running server, a plan
executed and rolled back with it. Then a hostile plugin in each language
(the raw bindings, no SDK) that spins, allocates without end, recurses,
answers too much or garbage, reads files, the environment, sockets and the
clock, prints and floods the log: each contained with its reason, the
server answering other requests meanwhile.

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


JS_INVERTER = """
// Undoes set_metadata: sets the key back to what it was.
import { Executed, Inverse, InvalidInput, defineInverter } from './rollback_sdk.js';

export const invert = defineInverter({
  actionType: 'set_metadata',
  version: '1.0.0',
  description: 'Sets the key back to its previous value.',
  schema: {
    type: 'object',
    properties: {
      resource_id: { type: 'string', minLength: 1 },
      key: { type: 'string', minLength: 1 },
      value: { type: ['string', 'null'] },
      previous: { type: ['string', 'null'] },
    },
    required: ['resource_id', 'key', 'value', 'previous'],
    additionalProperties: false,
  },
  invert(action) {
    const resource = action.paramStr('resource_id');
    const key = action.paramStr('key');
    if (!('value' in action.inputParameters) || !('previous' in action.inputParameters)) {
      throw new InvalidInput('value and previous are required');
    }
    const value = action.param('value');
    const previous = action.param('previous');
    console.log(`set_metadata: ${resource} ${key} back to ${previous}`);
    if (value === previous) return [];
    return [new Inverse('set_metadata', { resource_id: resource, key, value: previous, previous: value },
      { expecting: action.result, description: `Set ${key} of ${resource} back to ${previous}` })];
  },
});
"""

JS_INVERTER_TEST = """
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { invert } from './inverter.js';
import { Executed, InvalidInput } from './rollback_sdk.js';

test('sets the previous value back', () => {
  const [inv] = invert(new Executed('set_metadata', { resource_id: 'vm', key: 'k', value: 'new', previous: 'old' }));
  assert.deepEqual(inv.inputParameters, { resource_id: 'vm', key: 'k', value: 'old', previous: 'new' });
});

test('nothing to undo when unchanged', () => {
  assert.deepEqual(invert(new Executed('set_metadata', { resource_id: 'vm', key: 'k', value: 'v', previous: 'v' })), []);
});

test('a missing field is invalid input', () => {
  assert.throws(() => invert(new Executed('set_metadata', { resource_id: 'vm' })), InvalidInput);
});
"""

# A hostile plugin: the raw componentize-js bindings, no SDK.
JS_HOSTILE = """
import { log } from 'watcher:rollback/log@0.1.1';

const nop = (message) => [{ actionType: 'nop', inputParameters: JSON.stringify({ message }), dependsOn: new Uint32Array([]),
  description: '', expectedState: '{}', beforeDependents: false }];

export const inverter = {
  metadata() {
    return { actionType: 'hostile_js', pluginVersion: '0.0.1', description: 'misbehaves on purpose',
      parametersSchema: JSON.stringify({ type: 'object', properties: { mode: { type: 'string' } }, required: ['mode'] }) };
  },
  invert(action) {
    const mode = JSON.parse(action.inputParameters).mode;
    switch (mode) {
      case 'fine': return nop('fine');
      case 'spin': for (;;) {}
      case 'bomb': { const hoard = []; for (;;) hoard.push(new Uint8Array(1 << 20).fill(1)); }
      case 'recurse': { const down = (n) => down(n + 1) + 1; return nop(String(down(0))); }
      case 'huge': return nop('x'.repeat(4 << 20));
      case 'many': return Array.from({ length: 1001 }, () => nop('m')[0]);
      case 'bad_json': return [{ ...nop('x')[0], inputParameters: '{not json' }];
      case 'throw': throw new Error('thrown outside the contract');
      case 'env': return nop(JSON.stringify(typeof process === 'undefined' ? {} : process.env));
      case 'fetch': return nop(typeof fetch);
      case 'clock': return nop(String(Date.now()));
      case 'print': console.log('hello'); return nop('printed');
      case 'log_flood': for (let i = 0; i < 2000; i++) log('error', `flood ${i}`); return nop('flooded');
      default: { const e = new Error('unknown mode'); e.payload = { tag: 'not-invertible', val: 'unknown mode ' + mode }; throw e; }
    }
  },
};

export const batchInverter = {
  invertBatch(actions) {
    return actions.map((a) => {
      try { return { tag: 'ok', val: inverter.invert(a) }; } catch (e) { return { tag: 'err', val: e.payload || { tag: 'internal', val: String(e) } }; }
    });
  },
};
"""

work = tempfile.mkdtemp(prefix="rollback-foreign-")
built = {}


def build(lang, project):
    """Tests natively and builds the component, as the project's README says."""
    if lang == "python":
        sh(["./build.sh"], cwd=project)
    else:
        # The toolchain installed once (scripts/plugin-toolchains.sh) instead of `npm install`.
        os.symlink(os.path.join(ROOT, "target/plugin-node/node_modules"), os.path.join(project, "node_modules"))
        sh(["npm", "test", "--silent"], cwd=project)
        sh(["npm", "run", "build", "--silent"], cwd=project)


SOURCES = {
    "python": ("inverter.py", INVERTER, "test_inverter.py", INVERTER_TEST),
    "javascript": ("inverter.js", JS_INVERTER, "inverter.test.js", JS_INVERTER_TEST),
}


def from_plugin_new_to_a_rolled_back_plan(lang):
    project = os.path.join(work, lang, "set_metadata")
    sh([BIN, "plugin", "new", "set_metadata", "--lang", lang, "--dir", project])
    inverter, source, test_file, test_source = SOURCES[lang]
    assert os.path.exists(os.path.join(project, "wit/rollback.wit"))
    # The template refuses until written; its own test says so.
    if lang == "python":
        sh([sys.executable, "-m", "unittest", "-q"], cwd=project)
    with open(os.path.join(project, inverter), "w") as f:
        f.write(source)
    with open(os.path.join(project, test_file), "w") as f:
        f.write(test_source)
    build(lang, project)
    wasm = os.path.join(project, "set_metadata.wasm")
    p = sh([BIN, "plugin", "check", wasm, "--json"])
    report = json.loads(p.stdout)
    assert report["action_type"] == "set_metadata" and report["plugin_version"] == "1.0.0", report
    action = {"input_parameters": {"resource_id": "vm-1", "key": "owner", "value": "qa", "previous": "ops"},
              "pre_state": {}, "result": {"owner": "qa"}}
    p = sh([BIN, "plugin", "invert", wasm, "--plugin-compile", "baseline"], input=json.dumps(action))
    [inv] = json.loads(p.stdout)
    assert inv["input_parameters"]["value"] == "ops" and inv["expected_state"] == {"owner": "qa"}, inv
    assert "set_metadata: vm-1 owner back to" in p.stderr, "print/console.log reach the log: " + p.stderr

    data = os.path.join(work, lang, "data")
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
        # A plan the plugin's schema does not allow is refused.
        try:
            call(server.base, "POST", "/v1/action_plans",
                 {"actions": [{"action_type": "set_metadata", "input_parameters": {"resource_id": "vm-1"}, "parents": []}]})
            raise AssertionError("a plan missing required fields was accepted")
        except urllib.error.HTTPError as e:
            assert e.code == 400, e.code


# Each hostile mode: the rollback's 422 names the plugin and this cause.
CONTAINED = {
    "python": [
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
    ],
    "javascript": [
        ("spin", "exceeded its CPU deadline"),
        ("bomb", "exceeded its memory limit"),
        ("recurse", "trapped"),
        # 4 Mi characters, then their JSON, then UTF-8: the memory cap comes first.
        ("huge", ("exceeded its memory limit", "too much data is being copied")),
        ("many", "too much output"),
        ("bad_json", "invalid output"),
        ("throw", "trapped"),
    ],
}
# Each mode that succeeds: the message its inverse carries.
ANSWERED = {
    "python": [("env", "{}"), ("log_flood", "flooded"), ("fine", "fine")],
    "javascript": [("env", "{}"), ("print", "printed"), ("log_flood", "flooded"), ("fine", "fine")],
}


def hostile(lang):
    name = "hostile_py" if lang == "python" else "hostile_js"
    project = os.path.join(work, lang, name)
    sh([BIN, "plugin", "new", name, "--lang", lang, "--dir", project])
    if lang == "python":
        with open(os.path.join(project, "app.py"), "w") as f:
            f.write(HOSTILE)
        sh([os.path.join(VENV_BIN, "componentize-py"), "-d", "wit", "-w", "plugin", "componentize", "app",
            "-o", f"{name}.wasm", "--stub-wasi"], cwd=project)
    else:
        with open(os.path.join(project, "app.js"), "w") as f:
            f.write(JS_HOSTILE)
        os.symlink(os.path.join(ROOT, "target/plugin-node/node_modules"), os.path.join(project, "node_modules"))
        sh(["npm", "run", "build", "--silent"], cwd=project)
    wasm = os.path.join(project, f"{name}.wasm")
    data = os.path.join(work, lang, "data-hostile")
    with Server(BIN, data, []) as server:
        sh([BIN, "plugin", "add", wasm, "--url", server.base])

        def executed(mode):
            _, plan = call(server.base, "POST", "/v1/action_plans", {"actions": [
                {"action_type": name, "input_parameters": {"mode": mode}, "parents": []}]})
            call(server.base, "POST", f"/v1/action_plans/{plan['uuid']}/start")
            assert wait_for_plan(server.base, plan["uuid"])["state"] == "SUCCEEDED"
            return plan["uuid"]

        def rollback(uuid, dry_run=False):
            try:
                return call(server.base, "POST", f"/v1/action_plans/{uuid}/rollback", {"dry_run": dry_run}, timeout=60)
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
            for mode, cause in CONTAINED[lang]:
                uuid = executed(mode)
                status, body = rollback(uuid)
                text = json.dumps(body)
                log.append(f"{name} {mode}: HTTP {status} {text[:400]}")
                causes = cause if isinstance(cause, tuple) else (cause,)
                assert status == 422 and f"plugin `{name}`" in text and any(c in text for c in causes), \
                    (mode, status, text[:600])
                _, plan = call(server.base, "GET", f"/v1/action_plans/{uuid}")
                assert plan["rolled_back_by"] is None, plan
        finally:
            stop.set()
            poller.join()
        assert answered and all(s == 200 for s in answered), answered[-5:]
        # No environment gets through, a log flood is cut, and the plugin still works.
        for mode, expected in ANSWERED[lang]:
            status, rb = rollback(executed(mode))
            log.append(f"{name} {mode}: HTTP {status} {json.dumps(rb)[:300]}")
            assert status == 200, (mode, rb)
            assert rb["actions"][0]["input_parameters"]["message"] == expected, (mode, rb["actions"][0])
        if lang == "javascript":
            # Without the SDK the engine's clock stands still at the build's time.
            uuid = executed("clock")
            first = rollback(uuid, dry_run=True)[1]["actions"][0]["input_parameters"]["message"]
            time.sleep(0.05)
            again = rollback(uuid, dry_run=True)[1]["actions"][0]["input_parameters"]["message"]
            log.append(f"{name} clock: {first} then {again}")
            assert first == again, (first, again)
        _, health = call(server.base, "GET", "/healthz")
        assert health["status"] == "ok", health


def test_python_from_plugin_new_to_a_rolled_back_plan():
    from_plugin_new_to_a_rolled_back_plan("python")


def test_javascript_from_plugin_new_to_a_rolled_back_plan():
    from_plugin_new_to_a_rolled_back_plan("javascript")


def test_a_hostile_python_plugin_is_contained_and_the_server_keeps_answering():
    hostile("python")


def test_a_hostile_javascript_plugin_is_contained_and_the_server_keeps_answering():
    hostile("javascript")


for t in (test_python_from_plugin_new_to_a_rolled_back_plan,
          test_javascript_from_plugin_new_to_a_rolled_back_plan,
          test_a_hostile_python_plugin_is_contained_and_the_server_keeps_answering,
          test_a_hostile_javascript_plugin_is_contained_and_the_server_keeps_answering):
    test(t)
os.makedirs(os.path.dirname(TRANSCRIPT), exist_ok=True)
with open(TRANSCRIPT, "w") as f:
    f.write("\n".join(log))
shutil.rmtree(work, ignore_errors=True)
if failures:
    print(f"foreign-plugins: {len(failures)} failed: {', '.join(failures)} (transcript: {TRANSCRIPT})")
    sys.exit(1)
print(f"foreign-plugins: all passed (transcript: {TRANSCRIPT})")
