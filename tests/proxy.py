"""A real TCP proxy on loopback, in front of a lab endpoint, that behaves like a slow or broken network path:
it can delay every connection, or stop forwarding in both directions once a number of bytes went through
(a transfer that stalls midway: the connection stays open, nothing more arrives). It keeps every byte its
clients sent (`sent`), to show what an endpoint received."""

import socket
import threading
import time


class Proxy:
    def __init__(self, target_port: int, delay_s: float = 0.0, stall_after: int | None = None, listen=("127.0.0.1", 0)):
        """`listen`: the address and port it takes connections at (IPv4 or IPv6)."""
        self.target_port, self.delay_s, self.stall_after = target_port, delay_s, stall_after
        family = socket.AF_INET6 if ":" in listen[0] else socket.AF_INET
        self.listener = socket.create_server(listen, family=family)
        self.port = self.listener.getsockname()[1]
        self.forwarded = 0
        self.sent = bytearray()
        self.connections = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket):
        time.sleep(self.delay_s)
        try:
            server = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:
            client.close()
            return
        self._sockets += [client, server]
        for a, b, kept in ((client, server, self.sent), (server, client, None)):
            threading.Thread(target=self._pipe, args=(a, b, kept), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, kept: bytearray | None):
        try:
            while not self._stop.is_set():
                data = source.recv(65536)
                if not data:
                    break
                with self._lock:
                    if self.stall_after is not None and self.forwarded >= self.stall_after:
                        data = b""
                    self.forwarded += len(data)
                    if kept is not None:
                        kept += data
                if data:
                    sink.sendall(data)
                # a stalled path keeps reading (so the sender does not block) but delivers nothing
        except OSError:
            pass
        finally:
            if self.stall_after is None or self.forwarded < self.stall_after:
                for s in (source, sink):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

    def close(self):
        self._stop.set()
        self.listener.close()
        for s in self._sockets:
            try:
                s.close()
            except OSError:
                pass
