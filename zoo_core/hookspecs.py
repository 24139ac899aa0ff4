"""The hooks a zoo plugin may implement. A plugin implements only those it needs.

Each hook returns plain data (lists of small records); heavy modules (torch, the model code)
are named by import path and imported only when a model is built, so `zoo list` stays fast.
"""
from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("zoo")
hookimpl = pluggy.HookimplMarker("zoo")


@hookspec
def zoo_families() -> list[Any]:
    """Return the model families this plugin provides (`zoo_core.family.Family` records)."""


@hookspec
def zoo_models() -> dict[str, dict[str, Any]]:
    """Return catalog entries {"arch.tag": {family, task, repo_id, revision, files, ...}}."""


@hookspec
def zoo_samplers() -> list[Any]:
    """Return extra samplers (`zoo_core.sampler.SamplerInfo` records)."""


@hookspec
def zoo_evaluators() -> list[Any]:
    """Return evaluators (`zoo_core.evaluator.EvaluatorInfo` records)."""


@hookspec
def zoo_datasets() -> list[Any]:
    """Return data sets (`zoo_core.datasets.DatasetInfo` records)."""


@hookspec
def zoo_commands(cli: Any) -> None:
    """Add click commands to the `zoo` group passed in."""
