"""What the benchmark scripts and the system tests share: the repository's
root, a free loopback port, JSON over HTTP, and the rollback-host binary
started on a data directory and waited for until `/healthz` answers.

    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    from rbhost import ROOT, Server, call, free_port

    with Server(binary, data_dir, ["--plugins-dir", plugins]) as server:
        status, plan = call(server.base, "POST", "/v1/action_plans", {"actions": [...]})
"""
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, body=None, ctype="application/json", timeout=10, headers=None):
    """One request; `body` is JSON-encoded unless it is bytes. Returns
    (status, decoded JSON or None). A 4xx/5xx raises urllib.error.HTTPError;
    a refused connection raises OSError."""
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", ctype)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        text = r.read()
        return r.status, (json.loads(text) if text else None)


def wait_for_plan(base, uuid, states=("SUCCEEDED", "FAILED", "CANCELLED"), timeout=60):
    """Polls a plan until its state is one of `states`; returns the plan."""
    deadline = time.monotonic() + timeout
    while True:
        _, plan = call(base, "GET", f"/v1/action_plans/{uuid}")
        if plan["state"] in states:
            return plan
        if time.monotonic() > deadline:
            raise TimeoutError(f"plan {uuid} still {plan['state']} after {timeout} s")
        time.sleep(0.02)


class ServerError(Exception):
    """The server exited or did not answer /healthz in time."""


class Server:
    """`rollback-host serve` on 127.0.0.1:`port` (a free one by default)
    with `--data-dir data_dir` and `args`; returns once /healthz answers 200.
    `log` is a file object for its output (default: discarded); `env` is
    added to this process's environment; `wrap` prefixes the command (e.g.
    strace; then `new_session` makes stop() signal the whole group). Stop
    it with `stop()` (SIGTERM) or `kill()` (SIGKILL), or use it as a
    context manager."""

    def __init__(self, binary, data_dir, args=(), port=None, log=None, env=None, wrap=(),
                 ready_timeout=30, poll=0.05, new_session=False):
        self.new_session = new_session
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        out = log if log is not None else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [*wrap, binary, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", data_dir, *args],
            stdout=out, stderr=out, env={**os.environ, **(env or {})}, start_new_session=new_session)
        self.pid = self.proc.pid
        deadline = time.monotonic() + ready_timeout
        while True:
            try:
                call(self.base, "GET", "/healthz", timeout=2)
                return
            except (OSError, urllib.error.HTTPError):
                if self.proc.poll() is not None:
                    raise ServerError(f"the server exited with {self.proc.returncode} at start")
                if time.monotonic() > deadline:
                    self.kill()
                    raise ServerError(f"the server did not answer /healthz within {ready_timeout} s")
                time.sleep(poll)

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL if it has not exited within `timeout`."""
        if self.proc.poll() is None:
            if self.new_session:
                os.killpg(self.proc.pid, signal.SIGTERM)
            else:
                self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self):
        """SIGKILL, as a crash would."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
