"""zoo: a plugin-based zoo of generative models with a pretrained hub.

    import zoo_core as zoo
    model = zoo.load("dcgan")
    samples = model.sample(16, generator=0)

Attributes are imported lazily so `import zoo_core` (and the CLI) stays free of torch.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "load": "zoo_core.loading:load",
    "list_models": "zoo_core.api:list_models",
    "get_spec": "zoo_core.api:get_spec",
    "pull": "zoo_core.api:pull",
    "evaluate": "zoo_core.evaluation:evaluate",
    "load_dataset": "zoo_core.datasets:load_dataset",
    "ModelSpec": "zoo_core.spec:ModelSpec",
    "Family": "zoo_core.family:Family",
    "GenerativeModel": "zoo_core.model:GenerativeModel",
    "Sampler": "zoo_core.sampler:Sampler",
    "SamplerInfo": "zoo_core.sampler:SamplerInfo",
    "Samples": "zoo_core.samples:Samples",
    "DatasetInfo": "zoo_core.datasets:DatasetInfo",
    "hookimpl": "zoo_core.hookspecs:hookimpl",
    "ZooError": "zoo_core.errors:ZooError",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # pragma: no cover
    from .api import get_spec, list_models, pull
    from .datasets import DatasetInfo, load_dataset
    from .errors import ZooError
    from .family import Family
    from .hookspecs import hookimpl
    from .loading import load
    from .model import GenerativeModel
    from .sampler import Sampler, SamplerInfo
    from .samples import Samples
    from .spec import ModelSpec


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from .lazy import import_object

        value = import_object(_LAZY[name])
        globals()[name] = value
        return value
    raise AttributeError(f"module 'zoo_core' has no attribute {name!r}")
