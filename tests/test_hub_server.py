"""HubServer against the real huggingface_hub client, plus raw protocol checks."""
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from zoo_core.hub.client import sha256_file
from zoo_core.hub.publish import repo_entry, tree_revision, write_to_mirror
from zoo_core.hub.server import HubServer

from .hub_fixtures import BIG, REPO_ID, Hub, hub, hub_env, make_repo  # noqa: F401


def _request(url: str, method: str = "GET", data: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_tree_revision_is_content_addressed(tmp_path: Path) -> None:
    a, b = make_repo(tmp_path / "a"), make_repo(tmp_path / "b")
    assert tree_revision(a) == tree_revision(b)
    assert len(tree_revision(a)) == 40
    (b / ".hidden").write_text("dotfiles do not count")
    assert tree_revision(a) == tree_revision(b)
    (b / "config.json").write_text("changed")
    assert tree_revision(a) != tree_revision(b)


def test_snapshot_download_and_file_download(hub: Hub) -> None:
    import huggingface_hub as hh

    snap = Path(hh.snapshot_download(REPO_ID, endpoint=hub.server.url, cache_dir=hub.cache))
    assert snap.name == hub.spec.revision
    for rel, meta in repo_entry(hub.repo)["files"].items():
        assert sha256_file(snap / rel) == meta["sha256"]
    path = hh.hf_hub_download(REPO_ID, "notes.txt", revision="main", endpoint=hub.server.url,
                              cache_dir=hub.cache, force_download=True)
    assert Path(path).read_bytes() == (hub.repo / "notes.txt").read_bytes()
    # The blob is named by the sha256, as the catalog records it.
    assert (hub.cache / "models--zoo-test--tiny" / "blobs" / hub.spec.files[BIG].sha256).is_file()


def test_model_info_and_tree(hub: Hub) -> None:
    import huggingface_hub as hh

    api = hh.HfApi(endpoint=hub.server.url)
    info = api.model_info(REPO_ID)
    assert info.sha == hub.spec.revision
    assert sorted(s.rfilename for s in info.siblings) == sorted(hub.spec.files)
    assert api.model_info(REPO_ID, revision=hub.spec.revision).sha == hub.spec.revision
    top = {e.path for e in api.list_repo_tree(REPO_ID)}
    assert top == {"config.json", "notes.txt", "weights"}
    nested = list(api.list_repo_tree(REPO_ID, path_in_repo="weights"))
    assert [e.path for e in nested] == [BIG]
    assert nested[0].lfs.sha256 == hub.spec.files[BIG].sha256


def test_error_codes_select_client_exceptions(hub: Hub) -> None:
    import huggingface_hub as hh
    from huggingface_hub.errors import (RemoteEntryNotFoundError, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    kw = {"endpoint": hub.server.url, "cache_dir": hub.cache}
    with pytest.raises(RepositoryNotFoundError):
        hh.hf_hub_download("zoo-test/absent", "config.json", **kw)
    with pytest.raises(RevisionNotFoundError):
        hh.hf_hub_download(REPO_ID, "config.json", revision="f" * 40, **kw)
    with pytest.raises(RemoteEntryNotFoundError):
        hh.hf_hub_download(REPO_ID, "absent.bin", **kw)
    status, headers, _ = _request(f"{hub.server.url}/{REPO_ID}/resolve/main/absent.bin", "HEAD")
    assert (status, headers["X-Error-Code"], headers["X-Repo-Commit"]) == (404, "EntryNotFound",
                                                                           hub.spec.revision)


def test_unknown_paths_are_plain_404(hub: Hub) -> None:
    for path in ("/api/agent-harnesses", "/nothing/here"):
        status, headers, body = _request(hub.server.url + path)
        assert status == 404 and "X-Error-Code" not in headers and "error" in json.loads(body)


def test_range_and_headers(hub: Hub) -> None:
    url = f"{hub.server.url}/{REPO_ID}/resolve/{hub.spec.revision}/{BIG}"
    data = (hub.repo / BIG).read_bytes()
    status, headers, body = _request(url, "HEAD")
    assert status == 200 and body == b""
    assert headers["X-Linked-Etag"] == f'"{hub.spec.files[BIG].sha256}"'
    assert int(headers["X-Linked-Size"]) == len(data)
    status, headers, body = _request(url, headers={"Range": "bytes=1000-"})
    assert status == 206 and body == data[1000:]
    assert headers["Content-Range"] == f"bytes 1000-{len(data) - 1}/{len(data)}"
    status, _, body = _request(url, headers={"Range": "bytes=10-19"})
    assert status == 206 and body == data[10:20]
    status, _, _ = _request(url, headers={"Range": f"bytes={len(data)}-"})
    assert status == 416


def test_faults_on_raw_gets(hub: Hub) -> None:
    url = f"{hub.server.url}/{REPO_ID}/resolve/main/{BIG}"
    data = (hub.repo / BIG).read_bytes()
    hub.server.faults = {f"{REPO_ID}/{BIG}": "corrupt"}
    _, _, body = _request(url)
    assert len(body) == len(data) and body != data
    hub.server.faults = {BIG: "short"}
    _, headers, body = _request(url)
    assert len(body) < len(data) and int(headers["X-Linked-Size"]) == len(data)
    with pytest.raises(ValueError):
        hub.server.faults = {BIG: "explode"}


def test_reads_only_unless_writable(hub: Hub) -> None:
    status, _, _ = _request(f"{hub.server.url}/api/repos/create", "POST",
                            json.dumps({"name": "x", "organization": "o"}).encode())
    assert status == 403


def test_upload_with_the_client_then_download(tmp_path: Path, hub_env: Path) -> None:
    import huggingface_hub as hh
    from huggingface_hub.errors import RevisionNotFoundError

    src = make_repo(tmp_path / "src", seed=3)
    with HubServer(tmp_path / "root", allow_write=True) as server:
        api = hh.HfApi(endpoint=server.url)
        api.create_repo("org/up")
        api.create_repo("org/up", exist_ok=True)
        info = api.upload_folder(repo_id="org/up", folder_path=src)
        assert info.oid == tree_revision(tmp_path / "root" / "org" / "up") == repo_entry(src)["revision"]
        path = hh.hf_hub_download("org/up", BIG, revision=info.oid, endpoint=server.url,
                                  cache_dir=hub_env)
        assert Path(path).read_bytes() == (src / BIG).read_bytes()
        # A second upload that changes one file makes a new revision; the old one is gone.
        (src / "config.json").write_text('{"changed": true}')
        again = api.upload_folder(repo_id="org/up", folder_path=src)
        assert again.oid != info.oid and again.oid == repo_entry(src)["revision"]
        with pytest.raises(RevisionNotFoundError):
            hh.hf_hub_download("org/up", "config.json", revision=info.oid, endpoint=server.url,
                               cache_dir=hub_env, force_download=True)


def test_failed_commit_leaves_repo_as_it_was(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "root")
    before = repo_entry(repo)
    lines = [{"key": "header", "value": {"summary": "x"}},
             {"key": "file", "value": {"path": "new.txt", "encoding": "base64",
                                       "content": base64.b64encode(b"new").decode()}},
             {"key": "file", "value": {"path": "config.json", "encoding": "base64",
                                       "content": base64.b64encode(b"overwritten").decode()}},
             {"key": "lfsFile", "value": {"path": "big.bin", "algo": "sha256", "oid": "0" * 64}}]
    body = b"".join(json.dumps(x).encode() + b"\n" for x in lines)
    with HubServer(tmp_path / "root", allow_write=True) as server:
        status, _, _ = _request(f"{server.url}/api/models/{REPO_ID}/commit/main", "POST", body,
                                {"Content-Type": "application/x-ndjson"})
    assert status == 400
    assert repo_entry(repo) == before
    assert sorted(p.name for p in repo.parent.iterdir()) == ["tiny"]  # no temp folders left


def test_write_to_mirror_replaces_atomically(tmp_path: Path) -> None:
    src = make_repo(tmp_path / "src", seed=1)
    (src / ".cache").mkdir()  # dot-folders are not published
    mirror = tmp_path / "mirror"
    first = write_to_mirror(src, mirror, REPO_ID)
    assert first == repo_entry(src)
    assert not (mirror / REPO_ID / ".cache").exists()
    other = make_repo(tmp_path / "other", seed=2)
    second = write_to_mirror(other, mirror, REPO_ID)
    assert second["revision"] != first["revision"]
    assert second == repo_entry(mirror / REPO_ID)
    assert sorted(p.name for p in (mirror / "zoo-test").iterdir()) == ["tiny"]
