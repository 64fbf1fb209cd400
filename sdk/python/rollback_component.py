"""The glue between rollback_sdk and the component model (componentize-py).

`app.py` imports `Inverter` and `BatchInverter` from here; componentize-py
exports them as the contract's `inverter` and `batch-inverter`. Importing
this module also routes `print()`, `sys.stderr` and `logging` to the host's
`log` (a stub-WASI build has no stdout: printing would trap) and makes what
the sandbox forbids fail with `rollback_sdk.SandboxError`, naming it.
"""

import builtins
import json
import logging
import sys

import rollback_sdk
from rollback_sdk import Executed, Inverse, InvalidInput, NotInvertible, SandboxError
from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import types


class _LogWriter:
    """A text stream whose lines go to the host's log at one level."""

    def __init__(self, level):
        self.level = level
        self.pending = ""

    def write(self, text):
        self.pending += str(text)
        while "\n" in self.pending:
            line, self.pending = self.pending.split("\n", 1)
            rollback_sdk._host_log(self.level, line)
        if len(self.pending) > 4096:
            rollback_sdk._host_log(self.level, self.pending)
            self.pending = ""
        return len(text)

    def flush(self):
        if self.pending:
            rollback_sdk._host_log(self.level, self.pending)
            self.pending = ""

    def isatty(self):
        return False


class _LogHandler(logging.Handler):
    def emit(self, record):
        # DEBUG 10 → debug, INFO 20 → info, WARNING 30 → warn, ERROR and up → error.
        rollback_sdk._host_log(min(4, max(1, record.levelno // 10)), self.format(record))


sys.stdout = _LogWriter(2)
sys.stderr = _LogWriter(3)
_handler = _LogHandler()
_handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
logging.basicConfig(level=logging.INFO, handlers=[_handler], force=True)


def _forbidden(what):
    def refuse(*args, **kwargs):
        raise SandboxError(f"{what} is not available to a plugin: the sandbox has no files, "
                           "environment, network or clock; an inverter must be a pure function of its input")
    return refuse


def _sandbox():
    """Replaces what would trap (a stub-WASI call is an `unreachable`) with
    a SandboxError naming it."""
    import io
    import os
    import time

    builtins.open = io.open = _forbidden("open() (files)")
    for name in ("open", "stat", "lstat", "listdir", "scandir", "remove", "unlink", "mkdir", "rename", "getcwd"):
        if hasattr(os, name):
            setattr(os, name, _forbidden(f"os.{name}() (files)"))
    # logging stamps its records with time.time_ns(): it keeps a clock
    # frozen at 0; the plugin's own time calls are refused.
    frozen = type(sys)("time")
    frozen.__dict__.update(time.__dict__)
    frozen.time, frozen.time_ns = (lambda: 0.0), (lambda: 0)
    logging.time = frozen
    for name in ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns",
                 "process_time", "process_time_ns", "sleep", "localtime", "gmtime", "ctime", "asctime", "strftime"):
        if hasattr(time, name):
            setattr(time, name, _forbidden(f"time.{name}() (the clock)"))
    try:
        import socket
    except ImportError:
        return
    for name in ("socket", "create_connection", "create_server", "getaddrinfo", "gethostbyname", "socketpair"):
        if hasattr(socket, name):
            setattr(socket, name, _forbidden(f"socket.{name}() (the network)"))


_sandbox()
def _object(name, text):
    try:
        value = json.loads(text)
    except ValueError as e:
        raise InvalidInput(f"{name} is not JSON: {e}")
    if not isinstance(value, dict):
        raise InvalidInput(f"{name} must be a JSON object")
    return value


def _one(action):
    plugin = rollback_sdk.registered()
    executed = Executed(
        action.action_type,
        _object("input_parameters", action.input_parameters),
        _object("pre_state", action.pre_state),
        _object("result", action.result),
        uuid=action.action_uuid,
    )
    answer = plugin.invert(executed)
    if answer is None:
        answer = []
    out = []
    for i, inv in enumerate(answer):
        if isinstance(inv, dict):
            inv = Inverse(inv["action_type"], inv.get("input_parameters", {}),
                          expecting=inv.get("expected_state"), description=inv.get("description", ""),
                          depends_on=inv.get("depends_on", ()), before_dependents=inv.get("before_dependents", False))
        if not isinstance(inv, Inverse):
            raise TypeError(f"invert returned {type(inv).__name__} at index {i}; expected rollback_sdk.Inverse")
        out.append(types.InverseAction(
            inv.action_type,
            json.dumps(inv.input_parameters),
            inv.depends_on,
            inv.description,
            json.dumps(inv.expected_state),
            inv.before_dependents,
        ))
    return out


def _error(e):
    if isinstance(e, InvalidInput):
        return types.InvertError_InvalidInput(str(e))
    if isinstance(e, NotInvertible):
        return types.InvertError_NotInvertible(str(e))
    # Where it was raised, without source lines: reading them would touch
    # files, which the sandbox does not have.
    frames = []
    tb = e.__traceback__
    while tb is not None:
        frames.append(f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno} in {tb.tb_frame.f_code.co_name}")
        tb = tb.tb_next
    rollback_sdk._host_log(4, f"{type(e).__name__}: {e} (at " + " <- ".join(reversed(frames[-5:])) + ")")
    return types.InvertError_Internal(f"{type(e).__name__}: {e}")


class Inverter(exports.Inverter):
    def metadata(self):
        p = rollback_sdk.registered()
        return types.PluginMetadata(p.action_type, p.version, p.description, json.dumps(p.schema))

    def invert(self, action):
        try:
            return _one(action)
        except Exception as e:  # every failure becomes the contract's error
            raise Err(_error(e))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()


class BatchInverter(exports.BatchInverter):
    def invert_batch(self, actions):
        out = []
        for action in actions:
            try:
                out.append(Ok(_one(action)))
            except Exception as e:
                out.append(Err(_error(e)))
        sys.stdout.flush()
        sys.stderr.flush()
        return out
