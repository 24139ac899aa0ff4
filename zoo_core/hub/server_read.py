"""The hub server's read routes: file downloads (``resolve``, with Range and injected faults),
repo info and tree listings. Each takes the `HubServer` and the request handler."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .publish import _hash_pair, file_sha256, repo_files
from .server_http import _Handler, _HubError

if TYPE_CHECKING:
    from .server import HubServer

_CHUNK = 1 << 20


def _fault(hub: "HubServer", repo_id: str, relpath: str) -> str | None:
    """The fault injected for this file, if any (``org/name/path`` first, then ``path``)."""
    faults = hub._faults
    return faults.get(f"{repo_id}/{relpath}") or faults.get(relpath)


def resolve(hub: "HubServer", h: _Handler, method: str, repo_id: str, revision: str, relpath: str) -> None:
    """GET/HEAD ``/<repo>/resolve/<revision>/<path>``: the file (or a byte range of it)."""
    repo, rev = hub._repo(repo_id, revision)
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
    fault = _fault(hub, repo_id, relpath) if method == "GET" else None
    if fault == "drop":
        with hub._lock:  # only the first GET of the file is cut; the Range retry succeeds
            fault = None if f"{repo_id}/{relpath}" in hub._dropped else "drop"
            hub._dropped.add(f"{repo_id}/{relpath}")
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


def entries(repo: Path) -> list[dict[str, Any]]:
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


def info(hub: "HubServer", h: _Handler, repo_id: str, revision: str) -> None:
    """GET ``/api/models/<repo>[/revision/<rev>]``: the repo's revision and files."""
    repo, rev = hub._repo(repo_id, revision)
    siblings = [{"rfilename": e["path"], "size": e["size"], "blobId": e["oid"],
                 "lfs": {"sha256": e["lfs"]["oid"], "size": e["size"], "pointerSize": 134}}
                for e in entries(repo) if e["type"] == "file"]
    h.send_json({"id": repo_id, "modelId": repo_id, "sha": rev, "private": False,
                 "disabled": False, "gated": False, "tags": [], "siblings": siblings})


def tree(hub: "HubServer", h: _Handler, repo_id: str, revision: str, sub: str, recursive: bool) -> None:
    """GET ``/api/models/<repo>/tree/<rev>[/<dir>]``: the entries under `sub`."""
    repo, rev = hub._repo(repo_id, revision)
    found, prefix = entries(repo), f"{sub.strip('/')}/" if sub.strip("/") else ""
    if prefix and not any(e["path"] == prefix[:-1] and e["type"] == "directory" for e in found):
        raise _HubError(404, f"Entry {sub} not found in {repo_id}", "EntryNotFound", commit=rev)
    inside = [e for e in found if e["path"].startswith(prefix)]
    if not recursive:
        inside = [e for e in inside if "/" not in e["path"][len(prefix):]]
    h.send_json(inside)
