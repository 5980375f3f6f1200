"""Serve a simulator as a real HTTP server on loopback, for end-to-end tests and benchmarks.

    with serve(DeribitSimulator()) as base_url:
        ...  # point a client at base_url

The handler is the same callable the in-process tests give httpx.MockTransport, so both
paths exercise identical venue behaviour. Only loopback addresses are accepted. A
simulator with push channels (`push`, a reconciler.simulators.websocket.PushApp) has its
WebSocket handshakes answered on the same port, as the venue serves both on one host.
"""

from __future__ import annotations

import ipaddress
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from reconciler.simulators.websocket import PushApp, Sockets, handshake_bytes, serve_connection

Handler = Callable[[httpx.Request], httpx.Response]
POLL_MS = 50  # how often the serving loop looks whether it is asked to stop


def _request_handler(
    app: Handler, push: PushApp | None, sockets: Sockets
) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go as two writes: no 40 ms stall

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            host = self.headers.get("Host", "localhost")
            request = httpx.Request(
                self.command,
                f"http://{host}{self.path}",
                headers=list(self.headers.items()),
                content=body,
            )
            if push is not None and self.headers.get("Upgrade", "").lower() == "websocket":
                self.close_connection = True  # the socket is the WebSocket's from here on
                raw = handshake_bytes(self.requestline, self.headers.items())
                serve_connection(self.connection, raw, request, push, sockets)
                return
            response = app(request)
            payload = response.read()
            self.send_response(response.status_code)
            for name, value in response.headers.items():
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

    return RequestHandler


class _QuietServer(ThreadingHTTPServer):
    request_queue_size = 1024  # many clients connect at once (benchmarks); 5 would stall them

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up mid-answer is normal here; anything else is still shown."""
        kind = sys.exc_info()[0]
        if kind is not None and issubclass(kind, (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def serve(
    app: Handler, host: str = "127.0.0.1", port: int = 0, *, push: PushApp | None = None
) -> Iterator[str]:
    """Run app on host:port (0 = any free port) until the block ends; yields the base URL.
    With `push`, WebSocket handshakes go to it; its connections close when the block ends."""
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"simulators only listen on loopback, not {host}")
    sockets = Sockets()
    server = _QuietServer((host, port), _request_handler(app, push, sockets))
    server.daemon_threads = True
    # a short poll: stopping waits for the serving loop to look (0.5 s by default, per server)
    thread = threading.Thread(target=server.serve_forever, args=(POLL_MS / 1000,), daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        sockets.close_all()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
