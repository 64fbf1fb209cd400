#!/usr/bin/env python3
"""Start-up time (issue 13, P4), black box: from launching `serve` with the
built-in plugins to the first 200 from GET /healthz, cold (an empty data
directory, so an empty compile cache) and warm (the same directory again).
Runs each R times and prints the median and the range.

    python3 scripts/bench-startup.py --bin target/release/rollback-host --plugins target/plugins --runs 7
"""
import argparse
import http.client
import shutil
import socket
import statistics
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_and_time(binary, plugins, data):
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data,
                             "--plugins-dir", plugins], stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    return time.perf_counter() - t0
            except OSError:
                pass
            if proc.poll() is not None:
                raise SystemExit("the server exited")
            time.sleep(0.001)
    finally:
        proc.terminate()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/rollback-host")
    ap.add_argument("--plugins", default="target/plugins")
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    cold, warm = [], []
    for _ in range(args.runs):
        data = tempfile.mkdtemp(prefix="bench-startup-")
        try:
            cold.append(start_and_time(args.bin, args.plugins, data))
            warm.append(start_and_time(args.bin, args.plugins, data))
        finally:
            shutil.rmtree(data, ignore_errors=True)
    for name, xs in (("cold", cold), ("warm", warm)):
        ms = [x * 1000 for x in xs]
        print(f"{name}: median {statistics.median(ms):.1f} ms (min {min(ms):.1f}, max {max(ms):.1f}) over {len(ms)} runs")


if __name__ == "__main__":
    main()
