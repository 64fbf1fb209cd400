#!/usr/bin/env python3
"""Times one page of a list against the size of the collection, black box.

Starts the given binary on a fresh data directory, creates N plans of one
`nop` action each (8 client threads), then times 50 sequential requests for
each list URL and prints the first request's time and the median per URL.
With the sort indexes, the time of a page does not grow with N; an order
other than creation order is built on its first list (its first request
reads the whole collection once), so the median is what a page costs.

    python3 scripts/bench-list.py --bin target/release/rollback-host --plans 10000
"""
import argparse
import http.client
import json
import os
import shutil
import statistics
import tempfile
import threading
import time

from rbhost import Server

URLS = [
    "/v1/action_plans?limit=50",
    "/v1/action_plans?limit=50&sort_key=state&sort_dir=desc",
    "/v1/actions?limit=50",
]


def disk(c, data, pid, plans):
    """P6: the store's size on disk (allocated blocks, the compile cache
    left out) against the JSON of the records it holds (the API's detail
    rendering of 100 plans and 100 actions, times the count), and the
    server's resident memory while serving them."""
    json_bytes = 0
    for url in ("/v1/action_plans/detail?limit=100", "/v1/actions/detail?limit=100"):
        c.request("GET", url)
        r = c.getresponse()
        items = next(v for k, v in json.loads(r.read()).items() if isinstance(v, list))
        json_bytes += sum(len(json.dumps(i, separators=(",", ":"))) for i in items) / len(items) * plans
    on_disk = 0
    for root, dirs, files in os.walk(data):
        dirs[:] = [d for d in dirs if d != "compile-cache"]
        on_disk += sum(os.stat(os.path.join(root, f)).st_blocks * 512 for f in files)
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024
    print(f"plans={plans:<7} on disk {on_disk / 1e6:,.0f} MB, records as JSON {json_bytes / 1e6:,.0f} MB "
          f"(ratio {on_disk / json_bytes:.1f}), server RSS {rss:,.0f} MiB", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/rollback-host")
    ap.add_argument("--plans", type=int, default=10000)
    ap.add_argument("--store-compression", choices=["none", "zstd"], default="none",
                    help="the data directory's page compression (serve --store-compression)")
    args = ap.parse_args()
    data = tempfile.mkdtemp(prefix="bench-list-")
    server = Server(args.bin, data, ["--store-compression", args.store_compression])
    port = server.port
    try:

        def create(count):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            body = json.dumps({"actions": [{"action_type": "nop", "input_parameters": {"message": "x"}}]})
            for _ in range(count):
                c.request("POST", "/v1/action_plans", body=body, headers={"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                assert r.status == 201, r.status

        threads = [threading.Thread(target=create, args=(args.plans // 8,)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for url in URLS:
            times = []
            for _ in range(50):
                t = time.perf_counter()
                c.request("GET", url)
                r = c.getresponse()
                r.read()
                assert r.status == 200, r.status
                times.append((time.perf_counter() - t) * 1000)
            print(f"plans={args.plans:<7} {url:<58} first={times[0]:8.2f} ms "
                  f"median={statistics.median(times):8.2f} ms", flush=True)
        disk(c, data, server.pid, args.plans)
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
