"""Cold starts of the Lambda bootstraps against a local Lambda runtime API (scripts/bench --cold).

For each function, this starts its release bootstrap N times as Lambda would: a fresh process
with AWS_LAMBDA_RUNTIME_API pointing at a stub of the runtime API served here, the function's
settings in its environment and moto behind it. It measures, from exec:

  init   the first GET /2018-06-01/runtime/invocation/next (the runtime is ready: everything
         main() does before serving: logging, settings, the SDK config, the adapters);
  first  the first invocation answered (POST …/invocation/{id}/response or …/error), for an
         event that makes the function read DynamoDB.

Each process is killed after its first answer. Prints p50/p95 per function and exits 1 when a
function's median init misses the target.

    python cold_start.py --starts 20 --target-ms 30 --env K=V ... NAME=BOOTSTRAP:EVENT ...
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Start:
    """What the stub saw of one process."""

    def __init__(self, event: bytes):
        self.event = event
        self.request_id = str(uuid.uuid4())
        self.started_ns = 0
        self.init_ns = None
        self.answered_ns = None
        self.answer = None
        self.error = None
        self.handed_out = False
        self.done = threading.Event()
        self.release = threading.Event()


class Stub(BaseHTTPRequestHandler):
    """The runtime API for one process: each start gets its own server and port, so a request
    that a killed process sent late can never take the next process's event."""

    protocol_version = "HTTP/1.1"
    start: Start
    lock = threading.Lock()

    def log_message(self, *_):
        pass

    def reply(self, status: int, body: bytes = b"", headers: dict | None = None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        now = time.perf_counter_ns()
        start = self.start
        if not self.path.endswith("/runtime/invocation/next"):
            return self.reply(404)
        with Stub.lock:
            first = not start.handed_out
            start.handed_out = True
            if start.init_ns is None:
                start.init_ns = now - start.started_ns
        if not first:
            # The runtime waits for its next event; it is killed before one comes.
            start.release.wait(30)
            return self.reply(204)
        deadline = str(int(time.time() * 1000) + 30_000)
        self.reply(
            200,
            start.event,
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": start.request_id,
                "Lambda-Runtime-Deadline-Ms": deadline,
                "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:cold",
                "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
            },
        )

    def do_POST(self):
        now = time.perf_counter_ns()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        start = self.start
        if self.path.endswith("/init/error"):
            start.error = body.decode(errors="replace")
        elif self.path.endswith(f"/invocation/{start.request_id}/response"):
            start.answer = body.decode(errors="replace")
        elif self.path.endswith(f"/invocation/{start.request_id}/error"):
            start.answer = "error: " + body.decode(errors="replace")
        else:
            return self.reply(404)
        if start.answered_ns is None:
            start.answered_ns = now - start.started_ns
        # The answer is complete once its body is read: done before the reply, so a process that
        # dies before reading the 202 still counts as answered.
        start.done.set()
        self.reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A process killed mid-request (reading or writing) resets its connection: expected
        # here, not worth a trace. The one place such errors are handled.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def percentile(values, p):
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def run_one(binary: str, event: bytes, env: dict, log) -> Start:
    start = Start(event)
    handler = type("StubForOneStart", (Stub,), {"start": start})
    server = Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}")
    start.started_ns = time.perf_counter_ns()
    process = subprocess.Popen([binary], env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    answered = start.done.wait(30)
    start.release.set()
    process.kill()
    process.wait()
    server.shutdown()
    server.server_close()
    if not answered:
        start.error = start.error or "no answer within 30 s"
    return start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--target-ms", type=float, default=30.0)
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--log", default=os.devnull)
    parser.add_argument("functions", nargs="+", help="NAME=BOOTSTRAP:EVENT_FILE")
    args = parser.parse_args()

    base_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_LAMBDA_")}
    for pair in args.env:
        name, _, value = pair.partition("=")
        base_env[name] = value

    rows, status = [], 0
    with open(args.log, "a") as log:
        for spec in args.functions:
            name, _, rest = spec.partition("=")
            binary, _, event_file = rest.partition(":")
            with open(event_file, "rb") as f:
                event = f.read()
            env = dict(base_env)
            env.update(
                {
                    "AWS_LAMBDA_FUNCTION_NAME": name,
                    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
                    "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
                    "AWS_LAMBDA_LOG_STREAM_NAME": "cold",
                    "_HANDLER": "bootstrap",
                }
            )
            inits, firsts, answer = [], [], None
            print(f"    {name}: {args.starts} starts of {binary}", flush=True)
            for _ in range(args.starts):
                start = run_one(binary, event, env, log)
                if start.error or start.init_ns is None or start.answered_ns is None:
                    print(f"    {name}: failed to start: {start.error}", file=sys.stderr)
                    return 1
                inits.append(start.init_ns / 1e6)
                firsts.append(start.answered_ns / 1e6)
                answer = start.answer
            summary = (answer or "")[:90].replace("\n", " ")
            rows.append((name, inits, firsts, summary))

    print()
    print(f"    {'function':<10} {'init p50':>9} {'init p95':>9} {'first answer p50':>17} {'p95':>8}   target: init p50 <= {args.target_ms:g} ms")
    for name, inits, firsts, _ in rows:
        init50 = statistics.median(inits)
        verdict = "MET" if init50 <= args.target_ms else "MISS"
        if verdict == "MISS":
            status = 1
        print(
            f"    {name:<10} {init50:>7.1f}ms {percentile(inits, 95):>7.1f}ms {statistics.median(firsts):>15.1f}ms {percentile(firsts, 95):>6.1f}ms   {verdict}"
        )
    print()
    for name, _, _, summary in rows:
        print(f"    {name}: first answer: {summary}")
    print(json.dumps({name: {"init_p50_ms": statistics.median(i), "init_p95_ms": percentile(i, 95),
                             "first_p50_ms": statistics.median(f), "first_p95_ms": percentile(f, 95)}
                      for name, i, f, _ in rows}))
    return status


if __name__ == "__main__":
    sys.exit(main())
