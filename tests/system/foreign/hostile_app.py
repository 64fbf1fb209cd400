# A hostile inverter (tests/system/foreign-plugins.py): the raw componentize-py
# bindings, no SDK; its `mode` parameter picks the misbehaviour.
import json
from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import log, types

SCHEMA = {"type": "object", "properties": {"mode": {"type": "string"}}, "required": ["mode"]}


def nop(message):
    return [types.InverseAction("nop", json.dumps({"message": message}), [], "", "{}", False)]


class Inverter(exports.Inverter):
    def metadata(self):
        return types.PluginMetadata("hostile_py", "0.0.1", "misbehaves on purpose", json.dumps(SCHEMA))

    def invert(self, action):
        mode = json.loads(action.input_parameters)["mode"]
        if mode == "fine":
            return nop("fine")
        if mode == "spin":
            while True:
                pass
        if mode == "bomb":
            hoard = []
            while True:
                hoard.append(bytearray(1 << 20))
        if mode == "recurse":
            def down(n):
                return down(n + 1) + 1
            return nop(str(down(0)))
        if mode == "huge":
            return nop("x" * (4 << 20))
        if mode == "many":
            return nop("m") * 1001
        if mode == "bad_json":
            return [types.InverseAction("nop", "{not json", [], "", "{}", False)]
        if mode == "files":
            return nop(open("/etc/passwd").read())
        if mode == "env":
            import os
            return nop(json.dumps(dict(os.environ)))
        if mode == "socket":
            import socket
            socket.create_connection(("127.0.0.1", 22)).send(b"x")
            return nop("connected")
        if mode == "clock":
            import time
            return nop(str(time.time()))
        if mode == "print":
            print("hello")
            return nop("printed")
        if mode == "log_flood":
            for i in range(200):
                log.log(log.Level.ERROR, f"flood {i}")
            return nop("flooded")
        raise Err(types.InvertError_NotInvertible("unknown mode " + mode))


class BatchInverter(exports.BatchInverter):
    def invert_batch(self, actions):
        out = []
        for a in actions:
            try:
                out.append(Ok(Inverter().invert(a)))
            except Err as e:
                out.append(Err(e.value))
        return out
