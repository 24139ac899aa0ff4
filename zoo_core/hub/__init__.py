"""The zoo's hub layer: an HF-protocol server, a cache client and publishing helpers."""
from __future__ import annotations

from typing import Any

from .client import (cache_dir, cached_repos, endpoint, is_pulled, mirror_dir, offline, pull,
                     remove, sha256_file, snapshot_path, verify)
from .publish import push, repo_entry, tree_revision, write_to_mirror

__all__ = [
    "HubServer", "cache_dir", "cached_repos", "endpoint", "is_pulled", "mirror_dir", "offline",
    "pull", "push", "remove", "repo_entry", "sha256_file", "snapshot_path", "tree_revision",
    "verify", "write_to_mirror",
]


def __getattr__(name: str) -> Any:
    if name == "HubServer":  # lazily: http.server costs ~35 ms and listing models never needs it
        from .server import HubServer

        return HubServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
