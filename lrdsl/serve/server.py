"""``lrdsl serve``: the playground's HTTP server (standard library only).

Routes: ``GET /`` the page, ``GET /static/<file>`` its script and style sheet (shipped in the
package, nothing fetched from elsewhere), ``GET /api/nodes`` the node catalog, and
``POST /api/<route>`` the JSON API of :mod:`lrdsl.serve.api`, run in a worker process with a
time limit (:mod:`lrdsl.serve.workers`). Every error is a JSON ``{"error": {...}}`` with a 4xx
status: a body over :data:`MAX_BODY` bytes (413), a body that is not a JSON object (400), an
unknown route (404), a wrong method (405), a request for another host (403, against DNS
rebinding). It binds 127.0.0.1 by default: the playground is for the machine it runs on.
"""

from __future__ import annotations

import json
import sys
import threading
import webbrowser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urlsplit

from ..errors import LRDSLError
from . import api
from .workers import WorkerError, WorkerPool

MAX_BODY = 64 * 1024  # bytes of one request body
DRAIN_LIMIT = 8 * 1024 * 1024  # a refused body up to this size is read (and dropped) before answering
STATIC = {  # path -> (file under static/, content type)
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/static/style.css": ("style.css", "text/css; charset=utf-8"),
}
LOCAL_NAMES = {"localhost", "127.0.0.1", "::1"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _static(name: str) -> bytes:
    return resources.files("lrdsl.serve").joinpath("static").joinpath(name).read_bytes()


class PlaygroundServer(ThreadingHTTPServer):
    """The HTTP server: one thread per request; evaluations go to ``pool``."""

    daemon_threads = True
    allow_reuse_address = True
    pool: WorkerPool  # set by make_server once the address is bound

    def __init__(self, address: Tuple[str, int], max_body: int = MAX_BODY):
        try:
            super().__init__(address, PlaygroundHandler)
        except OSError as error:
            raise LRDSLError(
                f"cannot listen on {address[0]}:{address[1]} ({error.strerror}); give another --port"
            ) from None
        self.max_body = max_body
        self.files = {path: (_static(name), kind) for path, (name, kind) in STATIC.items()}
        self._catalog: Optional[bytes] = None
        self._catalog_lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = str(self.server_address[0]), self.server_address[1]
        host = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/"

    def catalog(self) -> bytes:
        """``/api/nodes``, built once (the registry does not change while the server runs)."""
        with self._catalog_lock:
            if self._catalog is None:
                self._catalog = json.dumps(api.nodes(), allow_nan=False).encode()
            return self._catalog

    def host_allowed(self, host_header: Optional[str]) -> bool:
        """A request must name this machine (or the address bound): a page from elsewhere that
        resolves its own name to 127.0.0.1 (DNS rebinding) is refused."""
        bound = str(self.server_address[0])
        if bound in ("0.0.0.0", "::", ""):
            return True
        host = urlsplit(f"//{host_header or ''}").hostname or ""
        return host in LOCAL_NAMES | {bound}


class PlaygroundHandler(BaseHTTPRequestHandler):
    """Routes one request; the API's work is done by :func:`lrdsl.serve.api.handle` in a worker."""

    server: PlaygroundServer
    server_version = "lrdsl-serve"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the playground prints its address and errors, not every request."""

    # -- answers -------------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, kind: str, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, body: Dict[str, Any], close: bool = False) -> None:
        self._send(status, json.dumps(body, allow_nan=False).encode(), "application/json", close)

    def _error(self, status: int, message: str, close: bool = False) -> None:
        self._json(status, api.error_body(api.RequestError(message, status), status), close)

    def _allowed(self) -> bool:
        if self.server.host_allowed(self.headers.get("Host")):
            return True
        self._error(HTTPStatus.FORBIDDEN, "this server answers requests for 127.0.0.1 or localhost only", close=True)
        return False

    # -- methods ------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        if not self._allowed():
            return
        path = urlsplit(self.path).path
        if path in self.server.files:
            body, kind = self.server.files[path]
            self._send(HTTPStatus.OK, body, kind)
        elif path == "/api/nodes":
            self._send(HTTPStatus.OK, self.server.catalog(), "application/json")
        elif path.removeprefix("/api/") in api.ROUTES:
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{path} takes POST with a JSON body")
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such page or route: {path}; routes: {api.route_list()}")

    do_HEAD = do_GET

    def do_POST(self) -> None:
        if not self._allowed():
            return
        path = urlsplit(self.path).path
        if not path.startswith("/api/") or path.removeprefix("/api/") not in api.ROUTES:
            self._error(HTTPStatus.NOT_FOUND, f"no API route {path}; routes: {api.route_list()}", close=True)
            return
        request = self._body()
        if request is None:
            return
        try:
            status, body = self.server.pool.run(api.handle, path.removeprefix("/api/"), request)
        except LRDSLError as error:  # the time limit, or a worker that died
            status = HTTPStatus.INTERNAL_SERVER_ERROR if isinstance(error, WorkerError) else 422
            body = api.error_body(error, status)
        self._json(status, body)

    def _drain(self, length: int) -> None:
        """Read and drop a refused body up to :data:`DRAIN_LIMIT` bytes, so that the client, still
        sending it, reads the answer instead of a reset connection."""
        left = length if length <= DRAIN_LIMIT else 0
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk:
                return
            left -= len(chunk)

    def _body(self) -> Optional[Any]:
        """The request's JSON, or None after answering the error (the connection is then closed,
        since a body left unread cannot be skipped)."""
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self._error(HTTPStatus.LENGTH_REQUIRED, "a POST needs a Content-Length header", close=True)
            return None
        if int(length) > self.server.max_body:
            self._drain(int(length))
            self._error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the body has {int(length):,} bytes; the limit is {self.server.max_body:,}",
                close=True,
            )
            return None
        raw = self.rfile.read(int(length))
        try:
            request = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            self._error(HTTPStatus.BAD_REQUEST, f"the body is not valid JSON: {error}")
            return None
        if not isinstance(request, dict):
            self._error(HTTPStatus.BAD_REQUEST, 'the body must be a JSON object, e.g. {"expression": "cosine()"}')
            return None
        return request


def make_server(
    host: str = "127.0.0.1", port: int = 8765, workers: int = 2, timeout: float = 5.0, max_body: int = MAX_BODY
) -> PlaygroundServer:
    """A server bound to ``host:port`` (port 0: any free port) with its worker pool, not yet serving.

    The workers are spawned interpreters, which import the calling script's ``__main__``: a script
    that calls this keeps its own work under ``if __name__ == "__main__":``.
    """
    server = PlaygroundServer((host, port), max_body)
    try:
        server.pool = WorkerPool(workers, timeout)
    except BaseException:
        server.server_close()
        raise
    return server


def serve(host: str = "127.0.0.1", port: int = 8765, open_browser: bool = False) -> None:
    """Serve the playground until Ctrl-C (``lrdsl serve``)."""
    server = make_server(host, port)
    print(f"lrdsl playground at {server.url} (Ctrl-C to stop)", flush=True)
    if open_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()
        server.pool.close()
