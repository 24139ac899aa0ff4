"""Fixtures for the hub tests: tiny repos, their ModelSpecs, a private cache and a local HubServer.

Import the fixtures into a test module (``from hub_fixtures import hub, hub_env``) to use them.
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

# huggingface_hub reads these once, at import: set them before anything imports it.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_XET", "1")

from zoo_core.hub.publish import repo_entry  # noqa: E402
from zoo_core.hub.server import HubServer  # noqa: E402
from zoo_core.spec import ModelSpec  # noqa: E402

REPO_ID = "zoo-test/tiny"
BIG = "weights/model.bin"  # ~300 KB, in a subfolder


def make_repo(root: Path, repo_id: str = REPO_ID, seed: int = 0) -> Path:
    """A repo of random bytes under ``root/repo_id``: two small files and a ~300 KB one in a subfolder."""
    import random

    rng = random.Random(seed)
    repo = root / repo_id
    files = {"config.json": b'{"seed": %d}\n' % seed, "notes.txt": rng.randbytes(1000),
             BIG: rng.randbytes(300_000)}
    for rel, data in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_bytes(data)
    return repo


def spec_for(repo_dir: Path, repo_id: str = REPO_ID, name: str = "tiny.test",
             **over: object) -> ModelSpec:
    """A ModelSpec for a repo folder, its revision and files filled by repo_entry."""
    raw = {"family": "test", "task": "unconditional", "repo_id": repo_id, **repo_entry(repo_dir), **over}
    return ModelSpec.from_dict(name, raw, source="test")


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connects are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Hub:
    server: HubServer
    root: Path
    repo: Path
    spec: ModelSpec
    cache: Path

    def gets(self, relpath: str) -> int:
        """How many GETs of a file's bytes the server has answered."""
        return sum(1 for m, p in self.server.requests if m == "GET" and p.endswith(f"/{relpath}"))


@pytest.fixture
def hub_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private, empty HF cache; no endpoint, no offline mode, no mirror, no Xet. Returns the cache."""
    cache = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("ZOO_MIRROR", str(tmp_path / "no-mirror"))
    for var in ("HF_ENDPOINT", "HF_HUB_OFFLINE", "HF_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    import huggingface_hub.constants as constants

    # Set at import time from the environment; pin them in case something imported it first.
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return cache


@pytest.fixture
def hub(tmp_path: Path, hub_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    """A HubServer over a root holding one tiny repo, set as HF_ENDPOINT."""
    root = tmp_path / "served"
    repo = make_repo(root)
    with HubServer(root) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield Hub(server, root, repo, spec_for(repo), hub_env)
