"""zoo_core.hub.client: pull / verify / remove through the real huggingface_hub against HubServer."""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest

from zoo_core.errors import HubError, IntegrityError, NotPulledError
from zoo_core.hub import client
from zoo_core.hub.publish import push, repo_entry, tree_revision
from zoo_core.hub.server import HubServer

from .hub_fixtures import BIG, REPO_ID, Hub, closed_port, hub, hub_env, make_repo, spec_for  # noqa: F401


def _leftovers(cache: Path) -> list[str]:
    """Partial downloads anywhere in the cache."""
    return [p.name for p in cache.rglob("*.incomplete")]


def _assert_absent(hub: Hub, rel: str) -> None:
    """Neither the snapshot entry nor the blob of `rel` is in the cache, nor any partial file."""
    storage = hub.cache / "models--zoo-test--tiny"
    assert not (storage / "snapshots" / hub.spec.revision / rel).exists()
    assert not (storage / "blobs" / hub.spec.files[rel].sha256).exists()
    assert _leftovers(hub.cache) == []


def test_env_is_read_at_call_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    assert client.cache_dir() == tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "c"))
    assert client.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("HF_ENDPOINT")
    assert client.endpoint() == "https://huggingface.co"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert client.offline()
    monkeypatch.setenv("ZOO_MIRROR", str(tmp_path))
    assert client.mirror_dir() == tmp_path


def test_pull_verifies_and_is_idempotent(hub: Hub) -> None:
    assert not client.is_pulled(hub.spec)
    path = client.pull(hub.spec, progress=False)
    assert path == client.snapshot_path(hub.spec)
    assert (path / BIG).read_bytes() == (hub.repo / BIG).read_bytes()
    assert client.verify(hub.spec) == []
    before = len(hub.server.requests)
    assert client.pull(hub.spec, progress=False) == path
    assert len(hub.server.requests) == before  # nothing asked of the server the second time
    client.pull(hub.spec, force=True, progress=False)
    assert hub.gets(BIG) == 2


def test_dropped_connection_is_resumed(hub: Hub) -> None:
    hub.server.faults = {BIG: "drop"}
    path = client.pull(hub.spec, progress=False)
    assert client.sha256_file(path / BIG) == hub.spec.files[BIG].sha256
    assert hub.gets(BIG) == 2  # the cut GET, then the Range retry


def test_short_body_is_one_line_error_and_leaves_nothing(hub: Hub) -> None:
    hub.server.faults = {BIG: "short"}
    with pytest.raises(HubError) as err:
        client.pull(hub.spec, progress=False)
    assert "\n" not in str(err.value) and "cut short" in str(err.value)
    _assert_absent(hub, BIG)


def test_corrupt_bytes_are_caught_and_purged(hub: Hub) -> None:
    hub.server.faults = {f"{REPO_ID}/{BIG}": "corrupt"}
    with pytest.raises(IntegrityError) as err:
        client.pull(hub.spec, progress=False)
    msg = str(err.value)
    assert "\n" not in msg and BIG in msg and hub.spec.files[BIG].sha256[:12] in msg
    _assert_absent(hub, BIG)
    hub.server.faults = {}
    path = client.pull(hub.spec, progress=False)
    assert client.verify(hub.spec) == [] and (path / BIG).is_file()


@pytest.mark.parametrize("change", ["repo", "revision", "file"])
def test_not_found_is_one_line_error(hub: Hub, change: str) -> None:
    spec, expect = hub.spec, {"repo": "no repo zoo-test/absent", "revision": f"no revision {'f' * 12}",
                              "file": "no file absent.bin"}[change]
    if change == "repo":
        spec = dataclasses.replace(spec, repo_id="zoo-test/absent")
    elif change == "revision":
        spec = dataclasses.replace(spec, revision="f" * 40)
    else:
        spec = dataclasses.replace(spec, files={**spec.files, "absent.bin": spec.files[BIG]})
    with pytest.raises(HubError) as err:
        client.pull(spec, progress=False)
    msg = str(err.value)
    assert "\n" not in msg and expect in msg and "HF_ENDPOINT" in msg
    assert _leftovers(hub.cache) == []


def test_unreachable_endpoint_without_mirror_fails_fast(hub_env: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    spec = spec_for(make_repo(tmp_path / "elsewhere"))
    start = time.monotonic()
    with pytest.raises(HubError) as err:
        client.pull(spec, progress=False)
    assert time.monotonic() - start < 5
    assert "\n" not in str(err.value) and "unreachable" in str(err.value)


def test_unreachable_endpoint_falls_back_to_mirror(hub_env: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    spec = spec_for(make_repo(mirror))
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("ZOO_MIRROR", str(mirror))
    path = client.pull(spec, progress=False)
    assert path.parent.parent == hub_env / "models--zoo-test--tiny"  # the standard cache
    assert client.verify(spec) == []


def test_endpoint_without_repo_falls_back_to_mirror(hub: Hub, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    spec = spec_for(make_repo(mirror, "zoo-test/only-mirrored", seed=5), "zoo-test/only-mirrored")
    monkeypatch.setenv("ZOO_MIRROR", str(mirror))
    client.pull(spec, progress=False)
    assert client.verify(spec) == []
    # A mirror at another revision is not used, and the error says so.
    stale = dataclasses.replace(spec, revision="e" * 40)
    with pytest.raises(HubError, match="revision") as err:
        client.pull(stale, progress=False)
    assert "\n" not in str(err.value)


def test_offline(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(NotPulledError, match="HF_HUB_OFFLINE"):
        client.pull(hub.spec, progress=False)
    assert not hub.server.requests
    monkeypatch.delenv("HF_HUB_OFFLINE")
    client.pull(hub.spec, progress=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = len(hub.server.requests)
    assert client.pull(hub.spec, progress=False) == client.snapshot_path(hub.spec)
    assert len(hub.server.requests) == before


def test_verify_detects_tampering_and_remove_frees(hub: Hub) -> None:
    path = client.pull(hub.spec, progress=False)
    blob = (path / "notes.txt").resolve()
    data = bytearray(blob.read_bytes())
    data[0] ^= 0xFF
    blob.write_bytes(bytes(data))
    problems = client.verify(hub.spec)
    assert len(problems) == 1 and "notes.txt" in problems[0]
    client.pull(hub.spec, progress=False)  # a damaged cached copy is fetched again
    assert client.verify(hub.spec) == [] and hub.gets("notes.txt") == 2
    repos = client.cached_repos()
    assert [r["repo_id"] for r in repos] == [REPO_ID] and repos[0]["revisions"] == [hub.spec.revision]
    freed = client.remove(hub.spec)
    assert freed >= hub.spec.total_size
    assert client.snapshot_path(hub.spec) is None and client.cached_repos() == []
    assert client.remove(hub.spec) == 0


def test_push_then_pull_back(hub_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_repo(tmp_path / "src", seed=7)
    root = tmp_path / "writable"
    with HubServer(root, allow_write=True) as server:
        oid = push(src, "org/pushed", endpoint=server.url)
        assert oid == tree_revision(root / "org" / "pushed") == repo_entry(src)["revision"]
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        path = client.pull(spec_for(src, "org/pushed"), progress=False)
    for rel in repo_entry(src)["files"]:
        assert (path / rel).read_bytes() == (src / rel).read_bytes()


def test_push_to_read_only_server_is_one_line_error(hub: Hub, tmp_path: Path) -> None:
    with pytest.raises(HubError) as err:
        push(make_repo(tmp_path / "src"), "org/x", endpoint=hub.server.url)
    assert "\n" not in str(err.value) and "org/x" in str(err.value)
