"""The demo servers' shared lifecycle: one ThreadingHTTPServer on 127.0.0.1 in a daemon thread.

Every demo server (Bitrix24, amoCRM, ads/CBR) is used the same way - `with Server(...) as url:` or
`start()` / `stop()` - and only differs in its request handler and the URL it hands out.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer:
    """Mixin: subclasses set `host` and `port` (0 = any free port) and provide `_handler()` and `served_url()`."""

    host: str
    port: int
    thread_name = "demo-server"
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def served_url(self) -> str:
        raise NotImplementedError

    def start(self) -> str:
        """Start serving in a background thread (once); return the URL clients are given."""
        if self._server is None:
            self._server = ThreadingHTTPServer((self.host, self.port), self._handler())
            self._server.daemon_threads = True
            self.port = self._server.server_address[1]
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
            )
            self._thread.start()
        return self.served_url()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            if self._thread is not None:
                self._thread.join(timeout=5)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
