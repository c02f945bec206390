"""python-cli: a plain `wasi:cli/command` program in Python (no wasmvisor WIT).

It exports `wasi:cli/run` and, driven by its arguments (argv[1:]):

- prints `hello from python`, then `arg: <arg>` for each argument;
- prints `GREETING=<value>` when the environment variable GREETING is set;
- then acts on the arguments in order:
  - `stdin`: reads all of stdin and prints `stdin: <content>`;
  - `exit N`: exits with status code N;
  - `fail`: `run` returns `err`;
- writes `python-cli done` to stderr last (also before `exit N` and `fail`).

`exit N` calls `wasi:cli/exit.exit-with-code` (WASI 0.2.12), not `sys.exit(N)`: with
componentize-py, `sys.exit(N)` and `os._exit(N)` go through wasi-libc's `proc_exit`, which calls
`wasi:cli/exit.exit(err)` for any N other than 0, so the host would see 1 instead of N.
Any uncaught exception other than `Err` would trap the instance instead of returning `err`.
"""
import os
import sys

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import exit as wasi_exit


def done() -> None:
    sys.stdout.flush()
    sys.stderr.write("python-cli done\n")
    sys.stderr.flush()


class Run(exports.Run):
    def run(self) -> None:
        args = sys.argv[1:]
        print("hello from python")
        for arg in args:
            print(f"arg: {arg}")
        greeting = os.environ.get("GREETING")
        if greeting is not None:
            print(f"GREETING={greeting}")

        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "stdin":
                content = sys.stdin.read()
                end = "" if content.endswith("\n") else "\n"
                sys.stdout.write(f"stdin: {content}{end}")
            elif arg == "exit":
                try:
                    code = int(args[i + 1])
                except (IndexError, ValueError):
                    code = 2
                    sys.stderr.write("usage: exit N (N in 0..=255)\n")
                done()
                if 0 <= code <= 255:
                    wasi_exit.exit_with_code(code)
                sys.exit(code)  # out of u8 range: wasi-libc reports it as exit(err), status 1
            elif arg == "fail":
                done()
                # `Err` is what makes `run` return `err` (the host sees a failed run, status 1).
                raise Err(None)
            i += 1
        done()
