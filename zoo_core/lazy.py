"""Resolve "module:attr" import paths on first use, so records stay cheap to create."""
from __future__ import annotations

import importlib
from typing import Any


def import_object(path: str) -> Any:
    """Import ``"package.module:attr"`` (or ``"package.module"``) and return the object."""
    module_name, _, attr = path.partition(":")
    module = importlib.import_module(module_name)
    obj: Any = module
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj
