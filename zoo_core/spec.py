"""ModelSpec: one catalog entry, frozen, travelling with the loaded model (like timm's pretrained_cfg).

No torch here: listing the catalog must stay cheap.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from .errors import CatalogError

_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.[a-z0-9][a-z0-9_-]*$")
_REPO = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class FileSpec:
    """A file of a model repo, addressed by content."""

    sha256: str
    size: int


@dataclass(frozen=True)
class ModelSpec:
    """A catalog entry: where a model's files live and what they are."""

    name: str  # "arch.tag", e.g. "dcgan.digits"
    family: str
    task: str
    repo_id: str
    revision: str  # pinned 40-hex commit
    files: Mapping[str, FileSpec]
    dataset: str = ""
    paper: str = ""
    license: str = ""
    description: str = ""
    default: bool = False  # the tag a bare arch name resolves to
    metrics: Mapping[str, Any] = field(default_factory=dict)
    source: str = "registry.yaml"  # where the entry came from (file or plugin name)

    @property
    def arch(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def tag(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files.values())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["files"] = {k: asdict(v) for k, v in self.files.items()}
        d["metrics"] = dict(self.metrics)
        return d

    @classmethod
    def from_dict(cls, name: str, raw: Mapping[str, Any], *, source: str) -> "ModelSpec":
        """Validate one raw catalog entry; any problem is a one-line CatalogError."""
        where = f"{source}: model {name!r}"
        if not isinstance(raw, Mapping):
            raise CatalogError(f"{where} must be a mapping of fields, got {type(raw).__name__}")
        if not _NAME.match(name):
            raise CatalogError(f"{where}: names are 'arch.tag' in lower case, e.g. 'dcgan.digits'")
        for key in ("family", "task", "repo_id", "revision", "files"):
            if key not in raw:
                raise CatalogError(f"{where} is missing the field {key!r}")
        revision = str(raw["revision"])
        if not _HEX40.match(revision):
            raise CatalogError(f"{where}: revision must be a 40-hex commit, got {revision!r}")
        if not _REPO.match(str(raw["repo_id"])):
            raise CatalogError(f"{where}: repo_id must look like 'org/name', got {raw['repo_id']!r}")
        files_raw = raw["files"]
        if not isinstance(files_raw, Mapping) or not files_raw:
            raise CatalogError(f"{where}: files must map file names to {{sha256, size}}")
        files: dict[str, FileSpec] = {}
        for fname, meta in files_raw.items():
            if not isinstance(meta, Mapping) or "sha256" not in meta or "size" not in meta:
                raise CatalogError(f"{where}: file {fname!r} needs sha256 and size")
            sha = str(meta["sha256"]).lower()
            if not _HEX64.match(sha):
                raise CatalogError(f"{where}: file {fname!r} has a sha256 that is not 64 hex digits")
            try:
                size = int(meta["size"])
            except (TypeError, ValueError):
                raise CatalogError(f"{where}: file {fname!r} has a size that is not an integer") from None
            if size < 0:
                raise CatalogError(f"{where}: file {fname!r} has a negative size")
            files[str(fname)] = FileSpec(sha256=sha, size=size)
        metrics = raw.get("metrics") or {}
        if not isinstance(metrics, Mapping):
            raise CatalogError(f"{where}: metrics must be a mapping")
        return cls(
            name=name,
            family=str(raw["family"]),
            task=str(raw["task"]),
            repo_id=str(raw["repo_id"]),
            revision=revision,
            files=files,
            dataset=str(raw.get("dataset", "")),
            paper=str(raw.get("paper", "")),
            license=str(raw.get("license", "")),
            description=str(raw.get("description", "")),
            default=bool(raw.get("default", False)),
            metrics=dict(metrics),
            source=source,
        )
