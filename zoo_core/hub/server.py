"""A Hugging Face Hub-protocol server over a directory of model repos (stdlib only).

Layout: ``ROOT/<org>/<name>/<files...>``. A repo has one revision, derived from its content
(``publish.tree_revision``), served under that 40-hex id and as ``main``. Every file is answered
like an LFS file (ETag = sha256), so the client's cache blob is named by the catalog's sha256.

This module holds `HubServer` (lifecycle, routing, repo lookup); the routes live in
`server_read` (downloads, info, trees) and `server_write` (repo creation, uploads, commits),
the HTTP plumbing in `server_http`.
"""
from __future__ import annotations

import os
import threading
from collections import deque
from pathlib import Path
from typing import Mapping

from . import server_read, server_write
from .publish import tree_revision
from .server_http import _Handler, _HubError, _Server, _valid_repo_id
# the module's former private names, still importable from here
from .server_http import _REPO  # noqa: F401
from .server_read import _CHUNK  # noqa: F401
from .server_write import _link_or_copy  # noqa: F401

__all__ = ["FAULTS", "HubServer"]

FAULTS = ("drop", "short", "corrupt")


class HubServer:
    """Serve ``root`` over the HF Hub HTTP protocol; writable only with ``allow_write=True``."""

    def __init__(self, root: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 0,
                 faults: Mapping[str, str] | None = None, allow_write: bool = False,
                 verbose: bool = False):
        self.root = Path(root).resolve()
        self.allow_write, self.verbose = allow_write, verbose
        # (method, path) of recent requests, for tests; bounded for long-running servers
        self.requests: deque[tuple[str, str]] = deque(maxlen=100_000)
        self._faults: dict[str, str] = {}
        self._dropped: set[str] = set()
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # one repo creation or commit at a time
        self.faults = dict(faults or {})
        self._httpd = _Server((host, port), _Handler, bind_and_activate=True)
        self._httpd.hub = self
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def faults(self) -> dict[str, str]:
        return self._faults

    @faults.setter
    def faults(self, value: Mapping[str, str]) -> None:
        bad = {k: v for k, v in value.items() if v not in FAULTS}
        if bad:
            raise ValueError(f"unknown faults {bad}; use one of {FAULTS}")
        self._faults, self._dropped = dict(value), set()  # a new fault map drops afresh

    def start(self) -> "HubServer":
        # A short poll keeps stop() quick: shutdown() waits for the loop to notice.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), name="zoo-hub",
                                        daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        if self._thread:
            self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            sockets, self._httpd.open_sockets = list(self._httpd.open_sockets), set()
        for sock in sockets:
            try:
                sock.shutdown(2)  # SHUT_RDWR: wakes the handler thread blocked on a keep-alive read
            except OSError:
                pass
        if self._thread:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record(self, method: str, path: str) -> None:
        with self._lock:
            self.requests.append((method, path))

    # -- routing -----------------------------------------------------------------------------
    def _route(self, h: _Handler, method: str, path: str, query: dict[str, list[str]],
               body: bytes) -> None:
        parts = [p for p in path.split("/") if p]
        if method in ("GET", "HEAD") and len(parts) >= 5 and parts[2] == "resolve":
            return server_read.resolve(self, h, method, "/".join(parts[:2]), parts[3], "/".join(parts[4:]))
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            repo_id, rest = "/".join(parts[2:4]), parts[4:]
            if method == "GET" and not rest:
                return server_read.info(self, h, repo_id, "main")
            if method == "GET" and len(rest) == 2 and rest[0] == "revision":
                return server_read.info(self, h, repo_id, rest[1])
            if method == "GET" and len(rest) >= 2 and rest[0] == "tree":
                recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
                return server_read.tree(self, h, repo_id, rest[1], "/".join(rest[2:]), recursive)
            if method == "POST" and len(rest) == 2 and rest[0] in ("preupload", "commit"):
                self._check_writable()
                if query.get("create_pr"):
                    raise _HubError(400, "pull requests are not supported by the zoo hub server")
                handler = server_write.preupload if rest[0] == "preupload" else server_write.commit
                return handler(self, h, repo_id, rest[1], body)
        if method == "POST" and parts == ["api", "validate-yaml"]:
            return server_write.validate_yaml(h, body)
        if method == "POST" and parts == ["api", "repos", "create"]:
            self._check_writable()
            return server_write.create(self, h, body)
        raise _HubError(404, f"not found: {method} {path}")

    def _check_writable(self) -> None:
        if not self.allow_write:
            raise _HubError(403, "this zoo hub server is read-only (start it with allow_write)")

    def _repo(self, repo_id: str, revision: str) -> tuple[Path, str]:
        """Repo dir and its revision; `revision` must be "main" or the current one."""
        repo = self.root / repo_id
        if not _valid_repo_id(repo_id) or not repo.is_dir():
            raise _HubError(404, f"Repository {repo_id} not found", "RepoNotFound")
        current = tree_revision(repo)
        if revision not in ("main", current):
            raise _HubError(404, f"Revision {revision} not found in {repo_id}", "RevisionNotFound")
        return repo, current
