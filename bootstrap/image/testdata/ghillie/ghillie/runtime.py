"""Minimal runtime: answers /health and /ready on GHILLIE_HOST:GHILLIE_PORT."""

import http.server
import json
import os

_BODIES = {"/health": {"status": "ok"}, "/ready": {"status": "ready"}}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = _BODIES.get(self.path)
        if body is None:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    host = os.environ.get("GHILLIE_HOST", "0.0.0.0")  # noqa: S104
    port = int(os.environ.get("GHILLIE_PORT", "8080"))
    http.server.ThreadingHTTPServer((host, port), _Handler).serve_forever()


if __name__ == "__main__":
    main()
