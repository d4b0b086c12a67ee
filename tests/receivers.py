"""Webhook receivers for the sender's tests: real HTTP servers on 127.0.0.1, in a thread.

``mode`` says how a receiver answers: ``ok`` (200 and a robot's ``errcode`` 0),
``fail`` (500 for the first ``failures`` requests, then ok), ``hang`` (no answer
until released, at most ``HANG_LIMIT`` seconds), ``refuse`` (200 with a
robot's non-zero ``errcode``).  Every request is kept with its arrival time.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG_LIMIT = 10.0


@dataclass
class Received:
    path: str
    headers: dict
    body: dict
    at: float  # time.time() on arrival


@dataclass
class Receiver:
    url: str
    mode: str = "ok"
    failures: int = 1
    kill_pid_on: tuple[int, int] | None = None  # (pid, nth request): SIGKILL that process, then answer
    requests: list[Received] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            with receiver.lock:
                receiver.requests.append(Received(self.path, dict(self.headers), body, time.time()))
                n = len(receiver.requests)
            if receiver.kill_pid_on and n == receiver.kill_pid_on[1]:
                os.kill(receiver.kill_pid_on[0], signal.SIGKILL)  # the sender dies after sending, before confirming
            if receiver.mode == "hang":
                receiver.released.wait(HANG_LIMIT)
            if receiver.mode == "fail" and n <= receiver.failures:
                self._answer(500, {"error": "down for maintenance"})
            elif receiver.mode == "refuse":
                self._answer(200, {"errcode": 93000, "errmsg": "invalid webhook url"})
            else:
                self._answer(200, {"errcode": 0, "errmsg": "ok"})

        def _answer(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout) or was killed

        def log_message(self, *args) -> None:
            pass

    return Handler


@contextmanager
def receiver(mode: str = "ok", **options):
    """A receiver on a free loopback port for the length of the block."""
    box = Receiver(url="", mode=mode, **options)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(box))
    server.daemon_threads = True
    box.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        box.released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
