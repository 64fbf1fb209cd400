#!/usr/bin/env python3
"""The syscall-order check of "nothing is answered before it is durable".

Runs the given rollback-host binary under `strace -f` while a client makes
every kind of acknowledged write (create a plan, start it, roll it back with
auto_start, upload a 1 MiB plugin, replace the cloud), then reads the trace:
for every 2xx answer to a write request, every file under the data
directory written while that request was served must have been fsynced
(fsync/fdatasync, not sync_file_range) after its last write, and every file
created or renamed there meanwhile must have had its directory fsynced
after. Prints each
violation and exits 1 if there is any.

The compile cache (`<data-dir>/compile-cache`) is left out: it is not data
the service acknowledges. Its entries are written by the background
(optimizing) compile of a plugin whenever that finishes, so they may be in
flight while an unrelated request is answered; each is synced before it is
renamed into place and verified by its MAC when read, so a torn one is
recompiled, never run (tests/tests/inprocess/sandbox.rs).

    python3 tests/system/strace-durability.py target/debug/rollback-host
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import rbhost  # noqa: E402
from rbhost import ROOT, Server  # noqa: E402

LINE = re.compile(r"^(\d+)\s+(\w+)\((.*)$")
RESUMED = re.compile(r"^(\d+)\s+<\.\.\. (\w+) resumed>(.*)$")
FD = re.compile(r"^(\d+)<([^>]*)>")


def padded_plugin(path, size):
    """The component at `path` with a custom section appended to reach `size` bytes."""
    data = open(path, "rb").read()
    name = b"padding"
    payload_len = max(0, size - len(data))

    def leb(n):
        out = bytearray()
        while True:
            b = n & 0x7F
            n >>= 7
            out.append(b | (0x80 if n else 0))
            if not n:
                return bytes(out)
    body = leb(len(name)) + name + b"\0" * payload_len
    return data + b"\x00" + leb(len(body)) + body


def client(base, data_dir):
    def call(method, path, body=None, ctype="application/json"):
        return rbhost.call(base, method, path, body, ctype, timeout=60)

    status, plan = call("POST", "/v1/action_plans", {"actions": [
        {"action_type": "change_nova_service_state",
         "input_parameters": {"resource_id": "compute-1", "state": "disabled", "disabled_reason": "check"}},
        {"action_type": "nop", "input_parameters": {"message": "x"}, "parents": [0]}]})
    uuid = plan["uuid"]
    call("POST", f"/v1/action_plans/{uuid}/start")
    for _ in range(200):
        if call("GET", f"/v1/action_plans/{uuid}")[1]["state"] == "SUCCEEDED":
            break
        time.sleep(0.05)
    status, rb = call("POST", f"/v1/action_plans/{uuid}/rollback", {"auto_start": True})
    for _ in range(200):
        if call("GET", f"/v1/action_plans/{rb['uuid']}")[1]["state"] == "SUCCEEDED":
            break
        time.sleep(0.05)
    big = padded_plugin(os.path.join(ROOT, "target/plugins/stop.wasm"), 1 << 20)
    assert len(big) >= 1 << 20
    status, _ = call("PUT", "/v1/plugins/stop", big, "application/wasm")
    assert status in (200, 201), status
    status, cloud = call("GET", "/v1/cloud")
    cloud["flavors"]["m1.check"] = {"vcpus": 1, "ram_mb": 512, "disk_gb": 1}
    call("PUT", "/v1/cloud", cloud)


def check(trace, data_dir):
    """For every 2xx answer to a write request (POST/PUT/PATCH/DELETE read
    on that socket), the files under `data_dir` written while the request
    was being served (between reading it and answering) must be fsynced
    after their last write, and those created or renamed meanwhile must
    have had their directory fsynced after. Writes before a request was
    read belong to earlier requests and are checked at their answers."""
    seq = 0
    pending = {}
    dirty, synced, created, dirsynced = {}, {}, {}, {}
    request_at = {}  # socket -> (seq the request was read, method)
    violations, answers = [], 0

    cache = data_dir + "/compile-cache"

    def under(path):
        if path == cache or path.startswith(cache + "/"):
            return False
        return path == data_dir or path.startswith(data_dir + "/")

    for raw in open(trace, errors="replace"):
        raw = raw.rstrip("\n")
        m = RESUMED.match(raw)
        if m:
            pid, name, rest = m.groups()
            if pid not in pending:
                continue
            line_name, args = pending.pop(pid)
            args = args + rest
        else:
            m = LINE.match(raw)
            if not m:
                continue
            pid, line_name, args = m.groups()
            if args.endswith("<unfinished ...>"):
                pending[pid] = (line_name, args[: -len("<unfinished ...>")])
                continue
        seq += 1
        ret = args.rsplit(" = ", 1)[-1] if " = " in args else ""
        if ret.startswith("-1"):
            continue
        fd = FD.match(args)
        path = fd.group(2) if fd else ""
        if line_name in ("read", "recvfrom", "recvmsg") and path.startswith("TCP:"):
            method = re.search(r'"(GET|HEAD|POST|PUT|PATCH|DELETE) /', args[:200])
            if method:
                request_at[path] = (seq, method.group(1))
        elif line_name in ("write", "writev", "pwrite64", "pwritev", "pwritev2", "sendto", "sendmsg"):
            if path.startswith("TCP:") and "HTTP/1.1 2" in args[:200]:
                since, method = request_at.get(path, (0, "?"))
                if method in ("GET", "HEAD"):
                    continue
                answers += 1
                for p, w in dirty.items():
                    if w > since and synced.get(p, -1) < w:
                        violations.append(f"{method} answered 2xx (trace event {seq}): {p} written (event {w}) and not fsynced since")
                for p, c in created.items():
                    parent = os.path.dirname(p)
                    if c > since and dirsynced.get(parent, -1) < c:
                        violations.append(f"{method} answered 2xx (trace event {seq}): {p} created or renamed (event {c}), {parent} not fsynced since")
            elif under(path) and not path.startswith("TCP:"):
                dirty[path] = seq
        elif line_name in ("fsync", "fdatasync") and under(path):
            synced[path] = seq
            dirsynced[path] = seq
        elif line_name == "openat" and "O_CREAT" in args:
            m2 = re.search(r'= \d+<([^>]*)>', args)
            if m2 and under(m2.group(1)):
                created[m2.group(1)] = seq
        elif line_name in ("rename", "renameat", "renameat2"):
            names = [n for n in re.findall(r'"([^"]*)"', args) if os.path.isabs(n)]
            if len(names) >= 2 and under(names[1]):
                old, new = names[0], names[1]
                created[new] = seq
                if old in dirty:
                    dirty[new] = dirty.pop(old)
                if old in synced:
                    synced[new] = synced.pop(old)
    return answers, violations


def main():
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/debug/rollback-host"))
    if shutil.which("strace") is None:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "strace"], check=True, stdout=subprocess.DEVNULL)
    work = tempfile.mkdtemp(prefix="strace-check-")
    data_dir = os.path.join(work, "data")
    trace = os.path.join(work, "trace")
    wrap = ["strace", "-f", "-yy", "-qq", "-s", "64", "-o", trace,
            "-e", "trace=openat,read,recvfrom,recvmsg,write,writev,pwrite64,pwritev,pwritev2,sendto,sendmsg,"
                  "fsync,fdatasync,sync_file_range,rename,renameat,renameat2"]
    server = Server(binary, data_dir, ["--plugins-dir", os.path.join(ROOT, "target/plugins"),
                                       "--sleep-scale", "0.001"], wrap=wrap, new_session=True, ready_timeout=60,
                    poll=0.1)
    try:
        client(server.base, data_dir)
    finally:
        server.stop(timeout=60)
    answers, violations = check(trace, os.path.realpath(data_dir))
    if not os.environ.get('KEEP_TRACE'):
        shutil.rmtree(work, ignore_errors=True)
    else:
        print('trace kept in', trace)
    print(f"strace-durability: {answers} 2xx answers checked, {len(violations)} violations")
    for v in violations[:40]:
        print("  " + v)
    sys.exit(1 if violations or answers == 0 else 0)


if __name__ == "__main__":
    main()
