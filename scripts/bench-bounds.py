#!/usr/bin/env python3
"""Does one client's load hurt everyone else? Measures `GET /healthz`
latency (p50/p99/max over sequential keep-alive requests) black box, in
three phases on one server:

  idle      nothing else running
  slowloris N connections sending their headers one line per second
  sleeps    one plan of M `sleep` actions (all parallel, real time) running

and prints one line per phase, plus how long the sleep plan took (with
async sleeps it is about one action's duration, however many run).

    python3 scripts/bench-bounds.py --bin target/release/rollback-host \
        --slow-clients 200 --sleeps 600 --sleep-seconds 5
"""
import argparse
import http.client
import json
import shutil
import socket
import tempfile
import threading
import time

from rbhost import Server


def request(conn, method, path, body=None):
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    r = conn.getresponse()
    data = r.read()
    return r.status, (json.loads(data) if data else None)


def healthz_latencies(port, seconds):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    out, until = [], time.monotonic() + seconds
    while time.monotonic() < until:
        t = time.perf_counter()
        status, _ = request(conn, "GET", "/healthz")
        out.append((time.perf_counter() - t) * 1000)
        assert status == 200, status
        time.sleep(0.005)
    conn.close()
    return out


def summary(name, ms):
    ms = sorted(ms)
    p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
    print(f"{name:<10} healthz n={len(ms):5d}  p50={p(0.50):6.2f} ms  p99={p(0.99):6.2f} ms  max={ms[-1]:7.2f} ms",
          flush=True)


def slowloris(port, n, seconds, stop):
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        socks.append(s)
    end = time.monotonic() + seconds
    while time.monotonic() < end and not stop.is_set():
        for s in socks:
            try:
                s.sendall(b"X-Slow: 1\r\n")
            except OSError:
                pass
        time.sleep(1)
    for s in socks:
        s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/rollback-host")
    ap.add_argument("--slow-clients", type=int, default=200)
    ap.add_argument("--sleeps", type=int, default=600)
    ap.add_argument("--sleep-seconds", type=float, default=5)
    ap.add_argument("--seconds", type=float, default=5, help="length of each measured phase")
    args = ap.parse_args()

    data = tempfile.mkdtemp(prefix="bench-bounds-")
    server = Server(args.bin, data, ["--applier-concurrency", str(args.sleeps), "--sleep-scale", "1"])
    port = server.port
    try:
        summary("idle", healthz_latencies(port, args.seconds))

        stop = threading.Event()
        t = threading.Thread(target=slowloris, args=(port, args.slow_clients, args.seconds + 2, stop))
        t.start()
        time.sleep(1)
        summary(f"slowloris{args.slow_clients}", healthz_latencies(port, args.seconds))
        stop.set()
        t.join()

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        actions = [{"action_type": "sleep", "input_parameters": {"duration": args.sleep_seconds}}
                   for _ in range(args.sleeps)]
        status, plan = request(conn, "POST", "/v1/action_plans", {"actions": actions})
        assert status == 201, (status, plan)
        uuid = plan["uuid"]
        started = time.monotonic()
        status, _ = request(conn, "POST", f"/v1/action_plans/{uuid}/start")
        assert status == 200, status
        summary(f"sleeps{args.sleeps}", healthz_latencies(port, min(args.seconds, args.sleep_seconds * 0.8)))
        while True:
            status, p = request(conn, "GET", f"/v1/action_plans/{uuid}")
            if p["state"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                break
            time.sleep(0.05)
        took = time.monotonic() - started
        print(f"plan of {args.sleeps} parallel {args.sleep_seconds:g} s sleeps: {p['state']} in {took:.2f} s", flush=True)
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
