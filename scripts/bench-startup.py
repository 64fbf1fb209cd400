#!/usr/bin/env python3
"""Start-up time (issue 13, P4), black box: from launching `serve` with the
built-in plugins to the first 200 from GET /healthz, cold (an empty data
directory, so an empty compile cache) and warm (the same directory again,
once the cold start's optimized code is cached), and for the cold start
also until every plugin runs optimized code (GET /v1/plugins `code`; with
`--plugin-compile tiered` it is compiled in the background). Runs each R
times and prints the median and the range. Extra arguments after `--` go
to `serve` (e.g. `-- --plugin-compile optimized`).

    python3 scripts/bench-startup.py --bin target/release/rollback-host --plugins target/plugins --runs 7
"""
import argparse
import http.client
import json
import shutil
import statistics
import tempfile
import time

from rbhost import Server, ServerError


def start_and_time(binary, plugins, data, extra):
    t0 = time.perf_counter()
    try:
        server = Server(binary, data, ["--plugins-dir", plugins, *extra], poll=0.001, ready_timeout=120)
    except ServerError as e:
        raise SystemExit(str(e))
    ready = time.perf_counter() - t0
    port = server.port
    try:
        # With tiered compilation the optimized code is compiled (and
        # cached) in the background after a cold start: wait for it, so
        # that the next start is warm, and report when it was all in.
        while True:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/v1/plugins")
            plugins = json.loads(c.getresponse().read())["plugins"]
            if all(p.get("code", "optimized") == "optimized" for p in plugins):
                return ready, time.perf_counter() - t0
            if time.perf_counter() - t0 > 120:
                raise SystemExit("the plugins' optimized code did not land within 120 s")
            time.sleep(0.005)
    finally:
        server.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/rollback-host")
    ap.add_argument("--plugins", default="target/plugins")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("serve_args", nargs="*", help="after --: more arguments for serve")
    args = ap.parse_args()
    cold, optimized, warm = [], [], []
    for _ in range(args.runs):
        data = tempfile.mkdtemp(prefix="bench-startup-")
        try:
            ready, all_optimized = start_and_time(args.bin, args.plugins, data, args.serve_args)
            cold.append(ready)
            optimized.append(all_optimized)
            warm.append(start_and_time(args.bin, args.plugins, data, args.serve_args)[0])
        finally:
            shutil.rmtree(data, ignore_errors=True)
    for name, xs in (("cold", cold), ("cold, all optimized", optimized), ("warm", warm)):
        ms = [x * 1000 for x in xs]
        print(f"{name}: median {statistics.median(ms):.1f} ms (min {min(ms):.1f}, max {max(ms):.1f}) over {len(ms)} runs")


if __name__ == "__main__":
    main()
