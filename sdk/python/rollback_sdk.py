"""rollback-host's Python SDK for inverter plugins.

An inverter undoes one Watcher action type. Write a function that takes an
`Executed` action and returns a list of `Inverse` actions, decorate it with
`@inverter(...)`, and build the project with componentize-py (see the
README the generator wrote). The same file runs under plain CPython for
tests: nothing here needs the WebAssembly runtime.

Inside the sandbox there is no WASI: no files, no environment, no sockets,
no clock (time stands still at build time) and no real randomness. The SDK
makes the common traps safe: `print()` and `logging` go to the host's log
instead of trapping, and `open`, `os.environ`, `socket` and `time` fail
with `SandboxError` naming what the sandbox forbids. A plugin must be a
pure function of its input.
"""

import json
import sys
import traceback

__all__ = [
    "Executed",
    "Inverse",
    "InvalidInput",
    "NotInvertible",
    "SandboxError",
    "inverter",
    "log",
]

_TRACE, _DEBUG, _INFO, _WARN, _ERROR = range(5)


class InvalidInput(Exception):
    """The action does not carry what this action type should (a missing or
    ill-typed parameter, pre-state or result field)."""


class NotInvertible(Exception):
    """The action is understood but cannot be undone (e.g. a deleted
    resource). The whole rollback is refused with this message."""


class SandboxError(OSError):
    """What the plugin tried is not available in the sandbox."""


def _missing(where, key, want):
    return InvalidInput(f"{where}.{key} must be {want}")


class Executed:
    """One executed action: its `input_parameters`, the `pre_state` the
    applier observed just before acting, and its `result` (dicts)."""

    def __init__(self, action_type, input_parameters, pre_state=None, result=None, uuid="00000000-0000-0000-0000-000000000000"):
        self.uuid = uuid
        self.action_type = action_type
        self.input_parameters = dict(input_parameters or {})
        self.pre_state = dict(pre_state or {})
        self.result = dict(result or {})

    def _get(self, where, record, key, kind, want, default):
        if key not in record or record[key] is None:
            if default is not _REQUIRED:
                return default
            raise _missing(where, key, want)
        value = record[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise _missing(where, key, want)
        return value

    def param(self, key, default=None):
        """`input_parameters[key]`, or `default`."""
        return self.input_parameters.get(key, default)

    def param_str(self, key, default=None):
        """`input_parameters[key]` as a string; InvalidInput when it is
        missing (and no default is given) or not a string."""
        return self._get("input_parameters", self.input_parameters, key, str, "a string", _REQUIRED if default is None else default)

    def pre(self, key, default=None):
        """`pre_state[key]`, or `default`."""
        return self.pre_state.get(key, default)

    def pre_str(self, key, default=None):
        """`pre_state[key]` as a string (InvalidInput otherwise)."""
        return self._get("pre_state", self.pre_state, key, str, "a string", _REQUIRED if default is None else default)

    def res(self, key, default=None):
        """`result[key]`, or `default`."""
        return self.result.get(key, default)

    def res_str(self, key, default=None):
        """`result[key]` as a string (InvalidInput otherwise)."""
        return self._get("result", self.result, key, str, "a string", _REQUIRED if default is None else default)


_REQUIRED = object()


class Inverse:
    """One action of the rollback plan.

    `expecting` is the state the inverse expects to find on its resource
    (usually the original's `result`): the applier skips it, with the
    reason, when the resource changed since. `before_dependents` runs it
    before, not after, the inverses of what depended on the original
    (re-enabling a service before instances move back). `depends_on` holds
    indices into the same returned list."""

    def __init__(self, action_type, input_parameters, *, expecting=None, description="", depends_on=(), before_dependents=False):
        if not isinstance(input_parameters, dict):
            raise TypeError("input_parameters must be a dict")
        self.action_type = action_type
        self.input_parameters = input_parameters
        self.expected_state = dict(expecting or {})
        self.description = description
        self.depends_on = [int(i) for i in depends_on]
        self.before_dependents = bool(before_dependents)

    def to_dict(self):
        return {
            "action_type": self.action_type,
            "input_parameters": self.input_parameters,
            "expected_state": self.expected_state,
            "description": self.description,
            "depends_on": self.depends_on,
            "before_dependents": self.before_dependents,
        }

    def __repr__(self):
        return f"Inverse({self.to_dict()!r})"


class _Plugin:
    def __init__(self, action_type, version, description, schema, invert):
        self.action_type = action_type
        self.version = version
        self.description = description
        self.schema = schema
        self.invert = invert


_registered = None


def inverter(action_type, *, version, description, schema):
    """Registers the decorated `invert(action: Executed) -> list[Inverse]`
    as this plugin's inverter for `action_type`; `schema` is the JSON Schema
    (a dict) of the action's `input_parameters`."""

    def register(invert):
        global _registered
        _registered = _Plugin(action_type, version, description, schema, invert)
        return invert

    return register


def registered():
    """The plugin the decorator registered (for the glue and for tests)."""
    if _registered is None:
        raise RuntimeError("no @inverter(...) function was defined")
    return _registered


# --- the host's log -------------------------------------------------------

def _host_log(level, message):
    try:
        from wit_world.imports import log as _wit_log  # only inside the component
    except ImportError:
        print(f"[{('trace', 'debug', 'info', 'warn', 'error')[level]}] {message}", file=sys.__stderr__)
        return
    _wit_log.log(_wit_log.Level(level), message)


class _Log:
    """`log.info("...")` and friends write to the host's log (at most 64
    lines a call are kept, each cut at 4 KiB)."""

    def trace(self, message):
        _host_log(_TRACE, str(message))

    def debug(self, message):
        _host_log(_DEBUG, str(message))

    def info(self, message):
        _host_log(_INFO, str(message))

    def warn(self, message):
        _host_log(_WARN, str(message))

    def error(self, message):
        _host_log(_ERROR, str(message))


log = _Log()
