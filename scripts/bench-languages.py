#!/usr/bin/env python3
"""Inverters in Python, JavaScript and Rust side by side (issue 25).

Builds the `set_metadata` inverter of tests/system/foreign/ with
`rollback-host plugin new` + componentize-py / componentize-js into
target/plugin-bench/ (beside the Rust `migrate` built-in), then for each:
the component's size, and `rollback-host plugin check` (compile, load, the
metadata call: the time to a first call) on Winch and on Cranelift, wall
time and peak RSS of the process. Then `cargo bench --bench languages`
(load from a cold and a warm cache, invert p50/p99 single and batched).

    python3 scripts/bench-languages.py --bin target/release/rollback-host
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "target/plugin-bench")


def run(cmd, cwd=None):
    env = dict(os.environ, PATH=os.path.join(ROOT, "target/plugin-venv/bin") + os.pathsep + os.environ["PATH"])
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)


def build(binary):
    os.makedirs(OUT, exist_ok=True)
    subprocess.run(["bash", os.path.join(ROOT, "scripts/plugin-toolchains.sh")], check=True)
    work = tempfile.mkdtemp(prefix="rollback-bench-")
    src = os.path.join(ROOT, "tests/system/foreign")
    for lang, files in (("python", {"inverter.py": "set_metadata.py", "test_inverter.py": "test_set_metadata.py"}),
                        ("javascript", {"inverter.js": "set_metadata.js", "inverter.test.js": "set_metadata.test.js"})):
        project = os.path.join(work, lang)
        run([binary, "plugin", "new", "set_metadata", "--lang", lang, "--dir", project])
        for dst, name in files.items():
            shutil.copy(os.path.join(src, name), os.path.join(project, dst))
        if lang == "python":
            run(["./build.sh"], cwd=project)
        else:
            os.symlink(os.path.join(ROOT, "target/plugin-node/node_modules"), os.path.join(project, "node_modules"))
            run(["npm", "run", "build", "--silent"], cwd=project)
        shutil.copy(os.path.join(project, "set_metadata.wasm"), os.path.join(OUT, f"set_metadata-{lang}.wasm"))
    shutil.copy(os.path.join(ROOT, "target/plugins/migrate.wasm"), os.path.join(OUT, "migrate-rust.wasm"))
    shutil.rmtree(work, ignore_errors=True)


def first_call(binary, wasm, compile):
    """Wall time and peak RSS of `plugin check` (compile + load + metadata)."""
    started = time.monotonic()
    p = subprocess.Popen([binary, "plugin", "check", wasm, "--plugin-compile", compile],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    took = time.monotonic() - started
    assert os.waitstatus_to_exitcode(status) == 0, (wasm, compile)
    return took, usage.ru_maxrss / 1024  # KiB → MiB


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/rollback-host"))
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    build(a.bin)
    print("| component | size | first call on Winch (wall, peak RSS) | first call on Cranelift (wall, peak RSS) |")
    print("|---|---|---|---|")
    for name in sorted(os.listdir(OUT)):
        wasm = os.path.join(OUT, name)
        cells = []
        for compile in ("baseline", "optimized"):
            runs = sorted(first_call(a.bin, wasm, compile) for _ in range(a.runs))
            took, rss = runs[len(runs) // 2]
            cells.append(f"{took:.2f} s, {rss:.0f} MiB")
        print(f"| {name} | {os.path.getsize(wasm) / 1e6:.1f} MB | {cells[0]} | {cells[1]} |")
    sys.stdout.flush()
    subprocess.run(["cargo", "bench", "-q", "-p", "rollback-host", "--bench", "languages"], cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
