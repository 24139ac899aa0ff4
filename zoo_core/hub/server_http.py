"""The HTTP plumbing of the hub server: the request handler, the threading server that tracks
its sockets, the error type a route raises to answer with an HTTP error, and the repo-id rule."""
from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    from .server import HubServer

_REPO = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _valid_repo_id(repo_id: str) -> bool:
    """``org/name`` of safe characters, with no ``..`` part."""
    return bool(_REPO.match(repo_id)) and ".." not in repo_id.split("/")


class _HubError(Exception):
    """An HTTP error answer; ``code`` goes to X-Error-Code, which selects the client's exception."""

    def __init__(self, status: int, message: str, code: str | None = None, commit: str | None = None,
                 extra: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.status, self.code, self.commit, self.extra = status, code, commit, dict(extra or {})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects
    timeout = 120  # idle keep-alive connections do not hold a thread forever
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.hub.verbose:
            super().log_message(format, *args)

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        hub = self.server.hub
        url = urlsplit(self.path)
        hub._record(method, url.path)
        try:
            body = self._read_body() if method == "POST" else b""
            hub._route(self, method, unquote(url.path), parse_qs(url.query), body)
        except _HubError as e:
            # Headers are latin-1 on the wire: keep the message ASCII there (the body has it whole).
            headers = {"X-Error-Message": str(e).encode("ascii", "replace").decode()}
            if e.code:
                headers["X-Error-Code"] = e.code
            if e.commit:
                headers["X-Repo-Commit"] = e.commit
            self.send_json({"error": str(e), **e.extra}, e.status, headers, head=method == "HEAD")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a server bug must still answer, or the client waits for a timeout
            self.close_connection = True  # the answer may have been half sent
            self.send_json({"error": f"internal error: {e!r}"}, 500, head=method == "HEAD")

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def send_json(self, obj: Any, status: int = 200, headers: Mapping[str, str] | None = None,
                  head: bool = False) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head:
            self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hub: "HubServer"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.open_sockets: set[Any] = set()  # closed on stop, so pooled keep-alive links die too

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.hub._lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.hub._lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.hub.verbose:  # dropped connections are routine in fault tests
            super().handle_error(request, client_address)
