"""Plugin manager: discovers plugins through the `zoo.plugins` entry-point group.

First-party families are found exactly as a third-party package is. A plugin that fails to
import, or whose hook raises, is recorded and skipped: it never takes the whole CLI down.
"""
from __future__ import annotations

import importlib.metadata as md
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Iterator

import pluggy

from . import hookspecs

ENTRY_POINT_GROUP = "zoo.plugins"
BUILTIN_PLUGINS = ("zoo_core.builtins",)


@dataclass
class PluginRecord:
    """What `zoo plugins` reports for one plugin."""

    name: str
    distribution: str = ""
    version: str = ""
    module: str = ""
    builtin: bool = False
    errors: list[str] = field(default_factory=list)
    families: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "builtin": self.builtin,
            "families": list(self.families),
            "models": list(self.models),
            "errors": list(self.errors),
        }


class PluginManager:
    """Loads plugins once and calls their hooks one implementation at a time."""

    def __init__(self, *, entry_points: bool = True) -> None:
        self._pm = pluggy.PluginManager("zoo")
        self._pm.add_hookspecs(hookspecs)
        self._records: dict[str, PluginRecord] = {}
        self._use_entry_points = entry_points
        self._loaded = False

    # -- registration -------------------------------------------------------------------
    def register(self, plugin: ModuleType | object, name: str, **info: Any) -> PluginRecord:
        """Register a plugin object (a module or any object with hookimpls)."""
        record = self._records.setdefault(name, PluginRecord(name=name, **info))
        try:
            self._pm.register(plugin, name=name)
        except Exception as exc:  # pluggy validates hook signatures here
            record.errors.append(f"registration failed: {_one_line(exc)}")
        return record

    def load(self) -> None:
        """Import built-in and entry-point plugins (idempotent)."""
        if self._loaded:
            return
        self._loaded = True
        for module_name in BUILTIN_PLUGINS:
            module = __import__(module_name, fromlist=["_"])
            self.register(module, module_name.rsplit(".", 1)[-1], module=module_name, builtin=True,
                          distribution="zoo-models", version=_version("zoo-models"))
        if not self._use_entry_points:
            return
        seen: dict[str, str] = {}
        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            info = {
                "module": ep.value,
                "distribution": dist.name if dist else "",
                "version": dist.version if dist else "",
            }
            if ep.name in seen:
                if seen[ep.name] != info["distribution"]:  # not merely the same dist twice on sys.path
                    self._records[ep.name].errors.append(
                        f"entry point {ep.name!r} is also declared by {info['distribution']!r}; "
                        f"kept {seen[ep.name]!r}'s")
                continue
            seen[ep.name] = info["distribution"]
            try:
                plugin = ep.load()
            except Exception as exc:
                record = self._records.setdefault(ep.name, PluginRecord(name=ep.name, **info))
                record.errors.append(f"import failed: {_one_line(exc)}")
                continue
            self.register(plugin, ep.name, **info)

    # -- hooks --------------------------------------------------------------------------
    def call(self, hook_name: str, **kwargs: Any) -> Iterator[tuple[PluginRecord, Any]]:
        """Yield (plugin record, result) per implementation; a raising hook is recorded."""
        self.load()
        hook = getattr(self._pm.hook, hook_name)
        # get_hookimpls() lists in registration order: the first plugin wins a name clash
        for impl in hook.get_hookimpls():
            record = self._records.setdefault(impl.plugin_name, PluginRecord(name=impl.plugin_name))
            try:
                result = impl.function(**kwargs)
            except Exception as exc:
                record.errors.append(f"hook {hook_name} raised: {_one_line(exc)}")
                continue
            if result is not None:
                yield record, result

    @property
    def records(self) -> list[PluginRecord]:
        self.load()
        return list(self._records.values())

    def record(self, name: str) -> PluginRecord | None:
        return self._records.get(name)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {text}"


def _version(dist: str) -> str:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return ""


_MANAGER: PluginManager | None = None


def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager (created on first use)."""
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = PluginManager()
    return _MANAGER


def reset_plugin_manager(manager: PluginManager | None = None) -> None:
    """Drop cached plugins and catalog (tests, and after `zoo install`)."""
    global _MANAGER
    _MANAGER = manager
    from . import catalog

    catalog.reset_catalog()
