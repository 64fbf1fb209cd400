#!/usr/bin/env python3
"""Inverters written in Python, JavaScript and Rust outside this repository,
as a user would: `rollback-host plugin new --lang python|javascript|rust` in a
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









def source(name):
    """A file of tests/system/foreign/: the inverters and tests a user writes."""
    with open(os.path.join(ROOT, "tests/system/foreign", name)) as f:
        return f.read()


INVERTER, INVERTER_TEST, HOSTILE = source("set_metadata.py"), source("test_set_metadata.py"), source("hostile_app.py")
JS_INVERTER, JS_INVERTER_TEST = source("set_metadata.js"), source("set_metadata.test.js")
JS_HOSTILE = source("hostile_app.js")

work = tempfile.mkdtemp(prefix="rollback-foreign-")
# The compile worker is the binary under test, a debug build here: compiling a language runtime with
# Cranelift takes it up to a minute or more on a slow 2-core machine (a JavaScript component: 13 s on a
# release build), past the 60 s default. The deadline is generous for the runs that must compile; the
# bounds themselves are checked below with tight values.
COMPILE_DEADLINE = ["--plugin-compile-timeout-ms", "300000"]
built = {}


def build(lang, project):
    """Tests natively and builds the component, as the project's README says."""
    if lang == "python":
        sh(["./build.sh"], cwd=project)
    elif lang == "rust":
        # rustup's wasm32 target and linker as scripts/guest-toolchain.sh found
        # them; the guests' one target directory.
        env_file = os.path.join(ROOT, "target/guest-toolchain.env")
        sh(["bash", "-c", f'source "{env_file}" && export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$GUEST_LINKER" '
            f'CARGO_TARGET_DIR="{ROOT}/plugins/target" && ./build.sh'], cwd=project)
    else:
        # The toolchain installed once (scripts/plugin-toolchains.sh) instead of `npm install`.
        os.symlink(os.path.join(ROOT, "target/plugin-node/node_modules"), os.path.join(project, "node_modules"))
        sh(["npm", "test", "--silent"], cwd=project)
        sh(["npm", "run", "build", "--silent"], cwd=project)


SOURCES = {
    "python": ("inverter.py", INVERTER, "test_inverter.py", INVERTER_TEST),
    "javascript": ("inverter.js", JS_INVERTER, "inverter.test.js", JS_INVERTER_TEST),
    # The Rust inverter's tests are in its own file.
    "rust": ("src/lib.rs", source("set_metadata.rs"), None, None),
}


def from_plugin_new_to_a_rolled_back_plan(lang):
    project = os.path.join(work, lang, "set_metadata")
    sh([BIN, "plugin", "new", "set_metadata", "--lang", lang, "--dir", project])
    inverter, source, test_file, test_source = SOURCES[lang]
    wit = "rollback-plugin-sdk/wit/rollback.wit" if lang == "rust" else "wit/rollback.wit"
    with open(os.path.join(project, wit)) as f:
        assert f.read() == sh([BIN, "plugin", "wit"]).stdout, "the project's contract is the binary's"
    # The template refuses until written; its own test says so.
    if lang == "python":
        sh([sys.executable, "-m", "unittest", "-q"], cwd=project)
    with open(os.path.join(project, inverter), "w") as f:
        f.write(source)
    if test_file:
        with open(os.path.join(project, test_file), "w") as f:
            f.write(test_source)
    build(lang, project)
    if lang == "javascript":
        # The SDK's declarations type the inverter: it checks, and a wrong argument does not.
        sh(["npm", "run", "typecheck", "--silent"], cwd=project)
        good = os.path.join(project, inverter)
        with open(good) as f:
            text = f.read()
        with open(good, "w") as f:
            f.write(text.replace("new Inverse('set_metadata',", "new Inverse(42,"))
        p = sh(["npm", "run", "typecheck", "--silent"], cwd=project, ok=False)
        assert p.returncode != 0 and "TS2345" in p.stdout + p.stderr, p.stdout + p.stderr
        with open(good, "w") as f:
            f.write(text)
    wasm = os.path.join(project, "set_metadata.wasm")
    p = sh([BIN, "plugin", "check", wasm, "--json", *COMPILE_DEADLINE])
    report = json.loads(p.stdout)
    assert report["action_type"] == "set_metadata" and report["plugin_version"] == "1.0.0", report
    if lang != "rust":
        # A language runtime's compile is large: within tight bounds it is refused, named, and quickly.
        for flag, value, reason in (("--plugin-compile-memory-mib", "64", "needed more than 64 MiB"),
                                    ("--plugin-compile-timeout-ms", "300", "took longer than 300 ms")):
            p = sh([BIN, "plugin", "check", wasm, flag, value], ok=False)
            assert p.returncode == 1 and "cannot be compiled within bounds" in p.stderr and reason in p.stderr, p.stderr
    action = {"input_parameters": {"resource_id": "vm-1", "key": "owner", "value": "qa", "previous": "ops"},
              "pre_state": {}, "result": {"owner": "qa"}}
    p = sh([BIN, "plugin", "invert", wasm, "--plugin-compile", "baseline"], input=json.dumps(action))
    [inv] = json.loads(p.stdout)
    assert inv["input_parameters"]["value"] == "ops" and inv["expected_state"] == {"owner": "qa"}, inv
    assert "set_metadata: vm-1 owner back to" in p.stderr, "print/console.log reach the log: " + p.stderr

    data = os.path.join(work, lang, "data")
    with Server(BIN, data, COMPILE_DEADLINE) as server:
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
        # Lowering 1,001 records is work too: on a loaded machine the deadline may come first.
        ("many", ("too much output", "exceeded its CPU deadline")),
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
        ("many", ("too much output", "exceeded its CPU deadline")),
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
    # A deadline of 1 s, not 100 ms: a Python traceback on baseline code on a loaded machine may take
    # 100 ms, and a mode that should trap must not be cut off by the deadline instead ("spin" meets it).
    with Server(BIN, data, ["--plugin-deadline-ms", "1000"]) as server:
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


def test_rust_from_plugin_new_to_a_rolled_back_plan():
    # Hostile Rust guests are the host's own tests (plugins/testing/).
    with open(os.path.join(ROOT, "target/guest-toolchain.env")) as f:
        if "GUEST_ROUTE=rustup" not in f.read():
            print("     (skipped: the guest toolchain is not rustup's; build.sh expects rustup's wasm32 target)")
            return
    from_plugin_new_to_a_rolled_back_plan("rust")


def test_a_hostile_python_plugin_is_contained_and_the_server_keeps_answering():
    hostile("python")


def test_a_hostile_javascript_plugin_is_contained_and_the_server_keeps_answering():
    hostile("javascript")


for t in (test_python_from_plugin_new_to_a_rolled_back_plan,
          test_javascript_from_plugin_new_to_a_rolled_back_plan,
          test_rust_from_plugin_new_to_a_rolled_back_plan,
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
