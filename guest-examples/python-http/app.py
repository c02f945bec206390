"""python-http: a plain `wasi:http/proxy` handler in Python (no wasmvisor WIT).

It exports `wasi:http/incoming-handler`. Routes, by the path without its query:

- `GET .../hello`   -> 200, body `hello from python`
- `GET .../healthz` -> 200, body `ok`
- `.../crash` (any method) -> raises, which traps the instance (no response is set)
- anything else     -> 404, body `not found`

The body is written synchronously (`blocking-write-and-flush`, at most 4096 bytes a call), so
no `poll_loop`/asyncio is needed.
"""
from componentize_py_types import Ok
from wit_world import exports
from wit_world.imports.types import (
    Fields,
    IncomingRequest,
    Method_Get,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)


def respond(response_out: ResponseOutparam, status: int, body: bytes) -> None:
    headers = Fields.from_list([
        ("content-type", b"text/plain; charset=utf-8"),
        ("content-length", str(len(body)).encode()),
    ])
    response = OutgoingResponse(headers)
    response.set_status_code(status)
    outgoing_body = response.body()
    # The response is sent first, then its body streamed, as wasi:http expects.
    ResponseOutparam.set(response_out, Ok(response))
    with outgoing_body.write() as stream:
        for start in range(0, len(body), 4096):
            stream.blocking_write_and_flush(body[start:start + 4096])
    # The stream has to be dropped (end of `with`) before the body is finished.
    OutgoingBody.finish(outgoing_body, None)


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        path = (request.path_with_query() or "/").split("?", 1)[0]
        is_get = isinstance(request.method(), Method_Get)
        if path.endswith("/crash"):
            # Not an HTTP error: an uncaught exception makes componentize-py trap.
            raise RuntimeError("python-http: crash requested")
        if is_get and path.endswith("/hello"):
            respond(response_out, 200, b"hello from python")
        elif is_get and path.endswith("/healthz"):
            respond(response_out, 200, b"ok")
        else:
            respond(response_out, 404, b"not found")
