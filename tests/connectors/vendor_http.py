"""A local HTTP server on 127.0.0.1 for one vendor's API, shared by every vendor server.

A vendor module (zendesk_api.py, ...) supplies an app: `app(request) -> Reply`. This module
adds what every test needs around it: a thread (or a child process, for benchmarks), a log
of the requests, injected faults (a 429 with Retry-After, a 500, a dropped connection) and a
hook run before each request (to change data while a client pages).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]  # first value of each parameter
    headers: dict[str, str]
    body: bytes
    base_url: str  # http://127.0.0.1:<port>, for the URLs an API hands back

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, value: Any, status: int = 200, headers: dict | None = None) -> Reply:
        data = json.dumps(value, ensure_ascii=False).encode()
        return cls(status, data, {"Content-Type": "application/json", **(headers or {})})


@dataclass
class Fault:
    """Answer the next `times` requests whose path starts with `path` with this instead."""

    path: str
    status: int  # 0: drop the connection without answering
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"error":"injected"}'
    times: int = 1


@dataclass
class VendorServer:
    """A running server: its URL, the requests seen, faults to inject, a per-request hook."""

    app: Callable[[Request], Reply]
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    before: Callable[[Request], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, path: str, status: int, times: int = 1, **headers: str) -> None:
        self.faults.append(Fault(path, status, {k.replace("_", "-"): v for k, v in headers.items()},
                                 times=times))  # fmt: skip

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def _fault_for(self, path: str) -> Fault | None:
        for fault in self.faults:
            if path.startswith(fault.path) and fault.times > 0:
                fault.times -= 1
                return fault
        return None


def _handler(server: VendorServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                self.command,
                parts.path,
                {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                dict(self.headers.items()),
                self.rfile.read(length) if length else b"",
                server.url,
            )
            with server.lock:
                server.requests.append(request)
                fault = server._fault_for(request.path)
                if fault is None and server.before is not None:
                    server.before(request)
                reply = (
                    Reply(fault.status, fault.body, fault.headers) if fault else server.app(request)
                )
            if reply.status == 0:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = _serve  # noqa: N815 (http.server API)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def serve(app: Callable[[Request], Reply]) -> Iterator[VendorServer]:
    """Run `app` on 127.0.0.1 in a thread of this process until the block ends."""
    state = VendorServer(app)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def _serve_child(factory: Callable[[], Callable[[Request], Reply]], port: Any, busy: Any) -> None:
    app = factory()

    def timed(request: Request) -> Reply:
        started = time.perf_counter()
        reply = app(request)
        with busy.get_lock():
            busy.value += time.perf_counter() - started
        return reply

    state = VendorServer(timed)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    port.value = httpd.server_address[1]
    httpd.serve_forever()


@contextlib.contextmanager
def serve_in_process(
    factory: Callable[[], Callable[[Request], Reply]],
) -> Iterator[tuple[str, Any]]:
    """Run the app built by `factory` in a child process (the vendor is another machine, not
    our CPU); yields its URL and a shared float of the seconds its app spent answering."""
    ctx = multiprocessing.get_context("fork")
    port, busy = ctx.Value("i", 0), ctx.Value("d", 0.0)
    process = ctx.Process(target=_serve_child, args=(factory, port, busy), daemon=True)
    process.start()
    deadline = time.monotonic() + 30
    while not port.value and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port.value}", busy
    finally:
        process.terminate()
        process.join(timeout=10)
