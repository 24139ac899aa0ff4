"""A Hugging Face Hub-protocol server over a directory of model repos (stdlib only).

Layout: ``ROOT/<org>/<name>/<files...>``. A repo has one revision, derived from its content
(``publish.tree_revision``), served under that 40-hex id and as ``main``. Every file is answered
like an LFS file (ETag = sha256), so the client's cache blob is named by the catalog's sha256.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import parse_qs, unquote, urlsplit

from .publish import _hash_pair, file_sha256, repo_files, tree_revision

_CHUNK = 1 << 20
_REPO = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
FAULTS = ("drop", "short", "corrupt")


def _link_or_copy(src: str, dst: str) -> None:
    """Hard-link (cheap for big weights) where possible, else copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


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
            return self._resolve(h, method, "/".join(parts[:2]), parts[3], "/".join(parts[4:]))
        if parts[:2] == ["api", "models"] and len(parts) >= 4:
            repo_id, rest = "/".join(parts[2:4]), parts[4:]
            if method == "GET" and not rest:
                return self._info(h, repo_id, "main")
            if method == "GET" and len(rest) == 2 and rest[0] == "revision":
                return self._info(h, repo_id, rest[1])
            if method == "GET" and len(rest) >= 2 and rest[0] == "tree":
                recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
                return self._tree(h, repo_id, rest[1], "/".join(rest[2:]), recursive)
            if method == "POST" and len(rest) == 2 and rest[0] in ("preupload", "commit"):
                self._check_writable()
                if query.get("create_pr"):
                    raise _HubError(400, "pull requests are not supported by the zoo hub server")
                handler = self._preupload if rest[0] == "preupload" else self._commit
                return handler(h, repo_id, rest[1], body)
        if method == "POST" and parts == ["api", "validate-yaml"]:
            return self._validate_yaml(h, body)
        if method == "POST" and parts == ["api", "repos", "create"]:
            self._check_writable()
            return self._create(h, body)
        raise _HubError(404, f"not found: {method} {path}")

    def _validate_yaml(self, h: _Handler, body: bytes) -> None:
        """Check a model card's front matter, as the Hub does before an upload that has one."""
        import yaml

        try:
            content = json.loads(body or b"{}").get("content", "")
            if content.startswith("---"):
                yaml.safe_load(content.split("---", 2)[1])
        except (ValueError, yaml.YAMLError, AttributeError, IndexError) as exc:
            return h.send_json({"errors": [{"message": f"invalid YAML front matter: {exc}"}]}, 400)
        h.send_json({"errors": [], "warnings": []})

    def _check_writable(self) -> None:
        if not self.allow_write:
            raise _HubError(403, "this zoo hub server is read-only (start it with allow_write)")

    def _repo(self, repo_id: str, revision: str) -> tuple[Path, str]:
        """Repo dir and its revision; `revision` must be "main" or the current one."""
        repo = self.root / repo_id
        if not _REPO.match(repo_id) or ".." in repo_id.split("/") or not repo.is_dir():
            raise _HubError(404, f"Repository {repo_id} not found", "RepoNotFound")
        current = tree_revision(repo)
        if revision not in ("main", current):
            raise _HubError(404, f"Revision {revision} not found in {repo_id}", "RevisionNotFound")
        return repo, current

    def _fault(self, repo_id: str, relpath: str) -> str | None:
        faults = self._faults
        return faults.get(f"{repo_id}/{relpath}") or faults.get(relpath)

    # -- read endpoints ----------------------------------------------------------------------
    def _resolve(self, h: _Handler, method: str, repo_id: str, revision: str, relpath: str) -> None:
        repo, rev = self._repo(repo_id, revision)
        file = repo_files(repo).get(relpath)
        if file is None:
            raise _HubError(404, f"Entry {relpath} not found in {repo_id}", "EntryNotFound", commit=rev)
        sha, size = file_sha256(file), file.stat().st_size
        start, end = 0, size - 1
        status, rng = 200, h.headers.get("Range")
        if rng and (m := re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())) and (m[1] or m[2]):
            if m[1]:
                start, end = int(m[1]), min(int(m[2]) if m[2] else size - 1, size - 1)
            else:
                start = max(size - int(m[2]), 0)
            if start >= size or start > end:
                raise _HubError(416, f"range {rng} not satisfiable for {size} bytes")
            status = 206
        length = end - start + 1 if size else 0
        fault = self._fault(repo_id, relpath) if method == "GET" else None
        if fault == "drop":
            with self._lock:  # only the first GET of the file is cut; the Range retry succeeds
                fault = None if f"{repo_id}/{relpath}" in self._dropped else "drop"
                self._dropped.add(f"{repo_id}/{relpath}")
        sent = length // 2 if fault in ("drop", "short") else length
        h.send_response(status)
        for k, v in {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes",
                     "Content-Length": str(sent if fault == "short" else length),
                     "ETag": f'"{sha}"', "X-Linked-Etag": f'"{sha}"', "X-Linked-Size": str(size),
                     "X-Repo-Commit": rev}.items():
            h.send_header(k, v)
        if status == 206:
            h.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        h.end_headers()
        if method == "HEAD":
            return
        with open(file, "rb") as f:
            f.seek(start)
            pos, left = start, sent
            while left > 0 and (block := f.read(min(_CHUNK, left))):
                if fault == "corrupt":  # flip one byte per 4 KiB: same size, wrong sha256
                    buf = bytearray(block)
                    for i in range(-pos % 4096, len(buf), 4096):
                        buf[i] ^= 0xFF
                    block = bytes(buf)
                h.wfile.write(block)
                pos, left = pos + len(block), left - len(block)
        if fault == "drop":
            h.close_connection = True  # the client sees fewer bytes than Content-Length

    def _entries(self, repo: Path) -> list[dict[str, Any]]:
        """Tree entries (files and directories) of a repo, sorted by path."""
        files, dirs = repo_files(repo), {}
        for rel, p in files.items():
            for parent in list(Path(rel).parents)[:-1]:
                dirs.setdefault(parent.as_posix(), []).append(rel)
        out: list[dict[str, Any]] = []
        for d, members in dirs.items():
            oid = hashlib.sha1("".join(f"{m}\0{file_sha256(files[m])}\n" for m in members).encode())
            out.append({"type": "directory", "path": d, "oid": oid.hexdigest(), "size": 0})
        for rel, p in files.items():
            sha, git = _hash_pair(p)
            size = p.stat().st_size
            out.append({"type": "file", "path": rel, "size": size, "oid": git,
                        "lfs": {"oid": sha, "size": size, "pointerSize": 134}})
        return sorted(out, key=lambda e: e["path"])

    def _info(self, h: _Handler, repo_id: str, revision: str) -> None:
        repo, rev = self._repo(repo_id, revision)
        siblings = [{"rfilename": e["path"], "size": e["size"], "blobId": e["oid"],
                     "lfs": {"sha256": e["lfs"]["oid"], "size": e["size"], "pointerSize": 134}}
                    for e in self._entries(repo) if e["type"] == "file"]
        h.send_json({"id": repo_id, "modelId": repo_id, "sha": rev, "private": False,
                     "disabled": False, "gated": False, "tags": [], "siblings": siblings})

    def _tree(self, h: _Handler, repo_id: str, revision: str, sub: str, recursive: bool) -> None:
        repo, rev = self._repo(repo_id, revision)
        entries, prefix = self._entries(repo), f"{sub.strip('/')}/" if sub.strip("/") else ""
        if prefix and not any(e["path"] == prefix[:-1] and e["type"] == "directory" for e in entries):
            raise _HubError(404, f"Entry {sub} not found in {repo_id}", "EntryNotFound", commit=rev)
        inside = [e for e in entries if e["path"].startswith(prefix)]
        if not recursive:
            inside = [e for e in inside if "/" not in e["path"][len(prefix):]]
        h.send_json(inside)

    # -- write endpoints ---------------------------------------------------------------------
    def _create(self, h: _Handler, body: bytes) -> None:
        req = json.loads(body or b"{}")
        if req.get("type", "model") != "model":
            raise _HubError(400, "only model repos are supported")
        repo_id = f"{req.get('organization')}/{req.get('name')}"
        if not req.get("organization") or not _REPO.match(repo_id) or ".." in repo_id.split("/"):
            raise _HubError(400, f"repo id must look like 'org/name', got {repo_id!r}")
        repo = self.root / repo_id
        with self._write_lock:
            if repo.exists():
                # create_repo(exist_ok=True) reads "url" from the 409 answer too
                raise _HubError(409, f"You already created this model repo: {repo_id}",
                                extra={"url": f"{self.url}/{repo_id}"})
            repo.mkdir(parents=True)
        h.send_json({"url": f"{self.url}/{repo_id}", "name": repo_id, "id": repo_id})

    def _preupload(self, h: _Handler, repo_id: str, revision: str, body: bytes) -> None:
        repo, _ = self._repo(repo_id, revision)
        present = repo_files(repo)
        # Every file goes "regular" (base64 inside the commit); oid lets the client skip unchanged files.
        files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                  "oid": _hash_pair(present[f["path"]])[1] if f["path"] in present else None}
                 for f in json.loads(body or b"{}").get("files", [])]
        h.send_json({"files": files, "commitOid": tree_revision(repo)})

    def _commit(self, h: _Handler, repo_id: str, revision: str, body: bytes) -> None:
        with self._write_lock:
            repo, rev = self._repo(repo_id, revision)
            ops = [json.loads(line) for line in body.splitlines() if line.strip()]
            header = next((o["value"] for o in ops if o.get("key") == "header"), {})
            parent = header.get("parentCommit")
            if parent and not rev.startswith(parent):
                raise _HubError(412, f"parent commit {parent} is not the head {rev} of {repo_id}")
            # Apply to a copy, then swap it in: a failed commit leaves the repo as it was.
            tmp = Path(tempfile.mkdtemp(prefix=f".{repo.name}.commit-", dir=repo.parent))
            try:
                shutil.copytree(repo, tmp, dirs_exist_ok=True, copy_function=_link_or_copy)
                for op in ops:
                    self._apply(tmp, op)
                old = repo.parent / f".{repo.name}.old-{uuid.uuid4().hex[:8]}"
                os.rename(repo, old)
                os.rename(tmp, repo)
                shutil.rmtree(old, ignore_errors=True)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            new = tree_revision(repo)
        h.send_json({"commitUrl": f"{self.url}/{repo_id}/commit/{new}", "commitOid": new,
                     "pullRequestUrl": None})

    @staticmethod
    def _apply(tree: Path, op: Mapping[str, Any]) -> None:
        key, value = op.get("key"), op.get("value") or {}
        if key == "header":
            return
        rel = str(value.get("path", "")).strip("/")
        if not rel or rel.startswith("/") or ".." in rel.split("/"):
            raise _HubError(400, f"bad path in commit: {rel!r}")
        target = tree / rel
        if key == "file":
            if value.get("encoding", "base64") != "base64":
                raise _HubError(400, "only base64 file contents are supported")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)  # it may be a hard link into the live repo
            target.write_bytes(base64.b64decode(value.get("content", "")))
        elif key == "deletedFile" and target.is_file():
            target.unlink()
        elif key == "deletedFolder" and target.is_dir():
            shutil.rmtree(target)
        elif key in ("deletedFile", "deletedFolder"):
            raise _HubError(404, f"A file with this name doesn't exist: {rel}", "EntryNotFound")
        else:
            raise _HubError(400, f"unsupported commit operation {key!r} (only regular uploads)")
