"""Publish a model repo: into a mirror directory (with its catalog entry) or to a hub endpoint.

Also home of the content addressing shared by the server and the client: :func:`tree_revision`.
Importing this module is cheap (stdlib only; huggingface_hub is imported by :func:`push`).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from ..errors import HubError

_CHUNK = 1 << 20
_HASHES: dict[tuple, tuple[str, str]] = {}  # (path, ino, mtime, ctime, size) -> (sha256, git sha1)
_HASH_LOCK = threading.Lock()


def _hash_pair(path: Path) -> tuple[str, str]:
    """(sha256, git blob sha1) of a file, read once and memoised by (path, inode, times, size)."""
    st = path.stat()
    key = (str(path), st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
    with _HASH_LOCK:
        if key in _HASHES:
            return _HASHES[key]
    sha256, git = hashlib.sha256(), hashlib.sha1(b"blob %d\0" % st.st_size)
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            sha256.update(block)
            git.update(block)
    pair = (sha256.hexdigest(), git.hexdigest())
    # Like git's "racy" check: a file changed within the last seconds may change again inside the
    # same coarse timestamp tick, so only settled files are memoised.
    if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > 2_000_000_000:
        with _HASH_LOCK:
            _HASHES[key] = pair
    return pair


def repo_files(repo_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Posix relpath -> path of every file in a repo, skipping dotfiles and dot-directories."""
    root, out = Path(repo_dir), {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith("."):
                full = Path(dirpath, name)
                out[full.relative_to(root).as_posix()] = full
    return dict(sorted(out.items()))


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 hex of a file, memoised while its inode, times and size stay the same."""
    return _hash_pair(Path(path))[0]


def tree_revision(repo_dir: str | os.PathLike[str]) -> str:
    """Content-addressed revision: sha1 over sorted ``relpath\\0sha256\\n`` lines."""
    lines = "".join(f"{rel}\0{file_sha256(p)}\n" for rel, p in repo_files(repo_dir).items())
    return hashlib.sha1(lines.encode()).hexdigest()


def repo_entry(repo_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """What registry.yaml records for a repo: its revision and each file's sha256 and size."""
    files = {rel: {"sha256": file_sha256(p), "size": p.stat().st_size}
             for rel, p in repo_files(repo_dir).items()}
    return {"revision": tree_revision(repo_dir), "files": files}


def write_to_mirror(src_dir: str | os.PathLike[str], mirror_root: str | os.PathLike[str],
                    repo_id: str) -> dict[str, Any]:
    """Copy a repo folder's files to ``mirror_root/repo_id``, replacing any repo there; return its entry.

    The copy is built in a temporary sibling folder and renamed into place, so readers never see
    a half-written repo (only, briefly, none at all).
    """
    if repo_id.count("/") != 1 or ".." in repo_id.split("/") or repo_id.startswith("/"):
        raise HubError(f"repo id must look like 'org/name', got {repo_id!r}")
    files = repo_files(src_dir)
    if not files:
        raise HubError(f"{src_dir} has no files to publish")
    dest = Path(mirror_root) / repo_id
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.new-", dir=dest.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes 0700: a mirror must be readable by whoever serves it
        for rel, path in files.items():  # only what tree_revision counts: no dotfiles
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, tmp / rel)
            os.chmod(tmp / rel, 0o644)
        old = dest.parent / f".{dest.name}.old-{uuid.uuid4().hex[:8]}"
        if dest.exists():
            os.rename(dest, old)
        os.rename(tmp, dest)
        shutil.rmtree(old, ignore_errors=True)
    except OSError as e:
        raise HubError(f"could not write {repo_id} into the mirror {mirror_root}: "
                       f"{e.strerror or e}") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return repo_entry(dest)


def push(src_dir: str | os.PathLike[str], repo_id: str, *, endpoint: str | None = None,
         token: str | None = None, private: bool = False) -> str:
    """Create `repo_id` on the endpoint if needed and upload the folder; return the new commit id."""
    from .client import _hf, endpoint as default_endpoint

    hf = _hf()
    url = (endpoint or default_endpoint()).rstrip("/")
    try:
        api = hf.HfApi(endpoint=url, token=token)
        api.create_repo(repo_id, exist_ok=True, private=private)
        info = api.upload_folder(repo_id=repo_id, folder_path=str(src_dir),
                                 commit_message=f"Upload {repo_id} with zoo")
    except Exception as e:  # every client failure becomes one line
        status = getattr(getattr(e, "response", None), "status_code", None)
        detail = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        hint = " (is the server started with writes allowed?)" if status == 403 else ""
        raise HubError(f"pushing {src_dir} to {url}/{repo_id} failed: {detail}{hint}") from e
    return str(info.oid)
