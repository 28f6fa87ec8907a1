"""HTTP(S) servers on loopback that a test points an RSE at: each keeps every request it receives (method,
path, headers, how many body bytes) and answers as the test says: a door that redirects, a rogue endpoint
that downgrades to plain HTTP, a hostile one that answers with the worst it can."""

import http.server
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body_bytes: int


class Door:
    def __init__(self, answer, pki: Path | None = None):
        """`answer(received) -> (status, headers, body)`; over TLS with the lab's host certificate when `pki`
        is given, plain HTTP otherwise."""
        self.received: list[Received] = []
        door = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def __getattr__(self, name):
                if name.startswith("do_"):
                    return self._any
                raise AttributeError(name)

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                got = Received(self.command, self.path, dict(self.headers), len(body))
                door.received.append(got)
                status, headers, content = answer(got)
                self.send_response_only(status, headers.pop("Reason", None))
                for name, value in {"Content-Length": str(len(content)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    if self.command != "HEAD":
                        self.wfile.write(content)
                except (BrokenPipeError, ConnectionResetError):  # a client that read what it wanted and left
                    pass

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if pki is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(pki / "host.pem", pki / "host.key")
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, host: str = "localhost", scheme: str = "") -> str:
        return f"{scheme or self.scheme}://{host}:{self.port}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def everything(received: list[Received]) -> str:
    """All a server was told, as text: to assert that a token is nowhere in it."""
    return "\n".join(f"{r.method} {r.path} {r.headers}" for r in received)
