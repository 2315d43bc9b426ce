"""A playground server running in a thread of the test process, on a free port, and a small JSON client."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading

from lrdsl.serve.server import make_server


@contextlib.contextmanager
def running_server(**options):
    """``lrdsl serve`` on 127.0.0.1 and a free port, serving in a thread; stopped (workers too) on exit."""
    server = make_server("127.0.0.1", 0, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        server.pool.close()
        thread.join(timeout=30)


def request(server, method: str, path: str, body=None, headers=None, timeout: float = 120):
    """``(status, decoded JSON or text, headers)`` of one request; ``body`` is sent as JSON unless
    it is bytes already."""
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        connection.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
        response = connection.getresponse()
        raw = response.read()
        kind = response.getheader("Content-Type", "")
        return response.status, json.loads(raw) if kind == "application/json" else raw.decode(), response
    finally:
        connection.close()
