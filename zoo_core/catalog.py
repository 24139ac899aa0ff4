"""The catalog: registry.yaml plus every plugin's hooks, resolved into one lookup.

name -> ModelSpec, family -> Family, and the samplers, evaluators and data sets plugins add.
No torch here.
"""
from __future__ import annotations

import difflib
import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .errors import CatalogError, UnknownModelError
from .family import Family
from .plugins import PluginManager, PluginRecord, get_plugin_manager
from .spec import ModelSpec

REPO_ROOT = Path(__file__).resolve().parents[1]


def registry_path() -> Path:
    """registry.yaml: ZOO_REGISTRY if set, else the one at the project root."""
    return Path(os.environ.get("ZOO_REGISTRY") or REPO_ROOT / "registry.yaml")


def read_registry(path: Path) -> dict[str, ModelSpec]:
    """Parse and validate registry.yaml; a missing file is an empty catalog."""
    import yaml

    if not path.exists():
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise CatalogError(f"{path} is not valid YAML{where}; fix the file or set ZOO_REGISTRY") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("models", {}), dict):
        raise CatalogError(f"{path} must be a mapping with a 'models:' mapping of entries")
    source = path.name
    return {name: ModelSpec.from_dict(str(name), entry, source=source)
            for name, entry in (raw.get("models") or {}).items()}


@dataclass
class Catalog:
    """Everything the installed plugins and registry.yaml make available."""

    specs: dict[str, ModelSpec] = field(default_factory=dict)
    families: dict[str, Family] = field(default_factory=dict)
    samplers: dict[str, Any] = field(default_factory=dict)
    evaluators: dict[str, Any] = field(default_factory=dict)
    datasets: dict[str, Any] = field(default_factory=dict)
    plugins: list[PluginRecord] = field(default_factory=list)

    # -- lookups --------------------------------------------------------------------------
    def resolve(self, name: str) -> ModelSpec:
        """Resolve "arch.tag" or a bare "arch" (its default tag); suggest on a miss."""
        if name in self.specs:
            return self.specs[name]
        if "." not in name:
            tagged = [s for s in self.specs.values() if s.arch == name]
            if tagged:
                defaults = [s for s in tagged if s.default]
                return (defaults or sorted(tagged, key=lambda s: s.name))[0]
        raise UnknownModelError(self._unknown_message(name))

    def _unknown_message(self, name: str) -> str:
        candidates = sorted(set(self.specs) | {s.arch for s in self.specs.values()})
        close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return f"unknown model {name!r}{hint} (see `zoo list`)"

    def family(self, name: str) -> Family:
        try:
            return self.families[name]
        except KeyError:
            raise CatalogError(
                f"no installed plugin provides the family {name!r}; see `zoo plugins`"
            ) from None

    def list(self, pattern: str | None = None, *, task: str | None = None,
             family: str | None = None) -> list[ModelSpec]:
        """Specs whose name (or arch) matches the glob, filtered by task and family."""
        out = []
        for spec in sorted(self.specs.values(), key=lambda s: s.name):
            if pattern and not (fnmatch.fnmatch(spec.name, pattern) or fnmatch.fnmatch(spec.arch, pattern)):
                continue
            if task and spec.task != task:
                continue
            if family and spec.family != family:
                continue
            out.append(spec)
        return out


def build_catalog(manager: PluginManager | None = None, registry: Path | None = None) -> Catalog:
    """Gather registry.yaml and every plugin's contributions, recording conflicts."""
    manager = manager or get_plugin_manager()
    cat = Catalog()
    cat.specs.update(read_registry(registry or registry_path()))
    first_party = set(cat.specs)

    for record, families in manager.call("zoo_families"):
        for fam in _as_list(families):
            if not isinstance(fam, Family):
                record.errors.append(f"zoo_families returned {type(fam).__name__}, not a Family")
                continue
            owner = cat.families.get(fam.name)
            if owner is not None:
                record.errors.append(
                    f"family {fam.name!r} is claimed by both {owner.plugin!r} and {record.name!r}; "
                    f"kept {owner.plugin!r}'s")
                continue
            cat.families[fam.name] = _with_plugin(fam, record.name)
            record.families.append(fam.name)

    for record, entries in manager.call("zoo_models"):
        if not isinstance(entries, dict):
            record.errors.append("zoo_models must return a dict of name -> entry")
            continue
        for name, raw in entries.items():
            try:
                spec = ModelSpec.from_dict(str(name), raw, source=record.name)
            except CatalogError as exc:
                record.errors.append(str(exc))
                continue
            if name in cat.specs:
                record.errors.append(
                    f"model {name!r} is claimed by both {cat.specs[name].source!r} and "
                    f"{record.name!r}; kept {cat.specs[name].source!r}'s")
                continue
            cat.specs[name] = spec
            record.models.append(name)

    for hook, target in (("zoo_samplers", cat.samplers), ("zoo_evaluators", cat.evaluators),
                         ("zoo_datasets", cat.datasets)):
        for record, items in manager.call(hook):
            for item in _as_list(items):
                name = getattr(item, "name", None)
                if not name:
                    record.errors.append(f"{hook} returned an item without a name")
                elif name in target:
                    record.errors.append(f"{hook}: {name!r} is already provided by another plugin")
                else:
                    target[name] = item

    # registry entries belong to the plugin whose family they use, for `zoo plugins`
    for spec in cat.specs.values():
        fam = cat.families.get(spec.family)
        if spec.name in first_party and fam is not None:
            rec = manager.record(fam.plugin)
            if rec is not None and spec.name not in rec.models:
                rec.models.append(spec.name)
    cat.plugins = manager.records
    return cat


def _as_list(items: Any) -> Iterable[Any]:
    return items if isinstance(items, (list, tuple)) else [items]


def _with_plugin(fam: Family, plugin: str) -> Family:
    from dataclasses import replace

    return replace(fam, plugin=plugin)


_CATALOG: Catalog | None = None


def get_catalog() -> Catalog:
    """The process-wide catalog (built on first use)."""
    global _CATALOG
    if _CATALOG is None:
        _CATALOG = build_catalog()
    return _CATALOG


def reset_catalog() -> None:
    global _CATALOG
    _CATALOG = None
