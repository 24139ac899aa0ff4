"""``import zoo``: the public API under its short name (the same objects as ``zoo_core``).

    import zoo
    model = zoo.load("attngan")
    samples = model.sample(8, prompt=["a small red circle above a blue square"], generator=0)
"""
from __future__ import annotations

from typing import Any

import zoo_core

__version__ = zoo_core.__version__
__all__ = list(zoo_core.__all__)


def __getattr__(name: str) -> Any:
    return getattr(zoo_core, name)
