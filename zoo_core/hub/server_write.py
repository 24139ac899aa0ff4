"""The hub server's write routes (upload and commit): repo creation, pre-upload, atomic commits,
and the model-card check the client makes before an upload. Each takes the `HubServer` and the
request handler; `zoo_core.hub.server` checks that the server is writable before calling them."""
from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .publish import _hash_pair, repo_files, tree_revision
from .server_http import _Handler, _HubError, _valid_repo_id

if TYPE_CHECKING:
    from .server import HubServer


def _link_or_copy(src: str, dst: str) -> None:
    """Hard-link (cheap for big weights) where possible, else copy."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def validate_yaml(h: _Handler, body: bytes) -> None:
    """Check a model card's front matter, as the Hub does before an upload that has one."""
    import yaml

    try:
        content = json.loads(body or b"{}").get("content", "")
        if content.startswith("---"):
            yaml.safe_load(content.split("---", 2)[1])
    except (ValueError, yaml.YAMLError, AttributeError, IndexError) as exc:
        return h.send_json({"errors": [{"message": f"invalid YAML front matter: {exc}"}]}, 400)
    h.send_json({"errors": [], "warnings": []})


def create(hub: "HubServer", h: _Handler, body: bytes) -> None:
    """POST ``/api/repos/create``: an empty model repo (409 with its url if it exists)."""
    req = json.loads(body or b"{}")
    if req.get("type", "model") != "model":
        raise _HubError(400, "only model repos are supported")
    repo_id = f"{req.get('organization')}/{req.get('name')}"
    if not req.get("organization") or not _valid_repo_id(repo_id):
        raise _HubError(400, f"repo id must look like 'org/name', got {repo_id!r}")
    repo = hub.root / repo_id
    with hub._write_lock:
        if repo.exists():
            # create_repo(exist_ok=True) reads "url" from the 409 answer too
            raise _HubError(409, f"You already created this model repo: {repo_id}",
                            extra={"url": f"{hub.url}/{repo_id}"})
        repo.mkdir(parents=True)
    h.send_json({"url": f"{hub.url}/{repo_id}", "name": repo_id, "id": repo_id})


def preupload(hub: "HubServer", h: _Handler, repo_id: str, revision: str, body: bytes) -> None:
    """POST ``/api/models/<repo>/preupload/<rev>``: how to upload each file (always inline)."""
    repo, _ = hub._repo(repo_id, revision)
    present = repo_files(repo)
    # Every file goes "regular" (base64 inside the commit); oid lets the client skip unchanged files.
    files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
              "oid": _hash_pair(present[f["path"]])[1] if f["path"] in present else None}
             for f in json.loads(body or b"{}").get("files", [])]
    h.send_json({"files": files, "commitOid": tree_revision(repo)})


def commit(hub: "HubServer", h: _Handler, repo_id: str, revision: str, body: bytes) -> None:
    """POST ``/api/models/<repo>/commit/<rev>``: apply the NDJSON operations all or nothing."""
    with hub._write_lock:
        repo, rev = hub._repo(repo_id, revision)
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
                apply(tmp, op)
            old = repo.parent / f".{repo.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(repo, old)
            os.rename(tmp, repo)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        new = tree_revision(repo)
    h.send_json({"commitUrl": f"{hub.url}/{repo_id}/commit/{new}", "commitOid": new,
                 "pullRequestUrl": None})


def apply(tree: Path, op: Mapping[str, Any]) -> None:
    """Apply one commit operation (a base64 file, a deleted file or folder) to `tree`."""
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
