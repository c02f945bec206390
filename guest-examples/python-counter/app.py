"""pycounter: the wasmvisor counter plugin in Python (world plugin-with-health).

Messages (UTF-8 text): `inc` adds 1 to the count kept under state key `count`
and replies with the new count; `get` replies the count; `crash` traps the
instance; anything else is an error reply.
"""
import wit_world
from wit_world.exports import health
from wit_world.imports import log, state
from componentize_py_types import Err

KEY = "count"


def count() -> int:
    value = state.get(KEY)
    try:
        return int(value.decode()) if value is not None else 0
    except ValueError:
        return 0


class Handler(wit_world.exports.Handler):
    def handle(self, message: bytes) -> bytes:
        try:
            text = message.decode()
        except UnicodeDecodeError:
            raise Err("messages are UTF-8 text")
        if text == "inc":
            new = count() + 1
            try:
                state.set(KEY, str(new).encode())
            except Err as e:
                raise Err(f"cannot save `{KEY}`: {e.value}")
            return str(new).encode()
        if text == "get":
            return str(count()).encode()
        if text == "crash":
            # A trap, not an `err`: only `Err(...)` becomes `err`; any other
            # uncaught exception makes componentize-py panic (wasm trap).
            # os._exit(1), sys.exit(1) and os.abort() trap too (verified).
            log.log(log.Level.WARN, "asked to crash")
            raise RuntimeError("asked to crash")
        raise Err("try `inc`, `get` or `crash`")


class Health(wit_world.exports.Health):
    def check(self) -> health.HealthStatus:
        return health.HealthStatus_Healthy()
