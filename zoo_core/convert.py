"""Converting original checkpoints into zoo model folders (`zoo convert FAMILY CHECKPOINT`).

A family names its converter in its `Family` record (``converter="pkg.module:convert"``); the
converter is a function ``convert(checkpoint: Path, **options) -> GenerativeModel`` returning
the model with the original's weights loaded. Options arrive from the command line as keyword
arguments (``--text-encoder P`` -> ``text_encoder="P"``); a converter rejects unknown ones.
The core writes the folder atomically (a temporary sibling, renamed at the end), so a failed
conversion never leaves a half-written model.

Helpers here are what every converter needs: reading a PyTorch checkpoint without
unpickling code (``torch.load(..., weights_only=True)``), dropping DataParallel's ``module.``
prefix, and adding the ``num_batches_tracked`` buffers older checkpoints predate.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping

from .errors import BadInputError, ZooError


def read_state_dict(path: str | os.PathLike[str], key: str | None = None) -> dict[str, Any]:
    """Tensors of a .pth checkpoint, loaded with ``weights_only=True`` (never arbitrary pickles).

    ``key`` picks a nested dict (e.g. "netG" or "state_dict") when the file holds several.
    """
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"checkpoint {str(path)!r} does not exist")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as exc:
        first = " ".join(str(exc).split())[:200]
        raise ZooError(f"{path} is not a plain PyTorch state dict (refused to unpickle it: {first})") from None
    if key is not None and isinstance(obj, Mapping) and key in obj:
        obj = obj[key]
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ZooError(f"{path} does not hold a state dict of tensors")
    return dict(obj)


def strip_prefix(state: Mapping[str, Any], prefix: str = "module.") -> dict[str, Any]:
    """Drop a prefix every key has (a model saved from nn.DataParallel)."""
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}
    return dict(state)


def add_missing_batch_counts(state: Mapping[str, Any], model: Any) -> dict[str, Any]:
    """Add the ``num_batches_tracked`` buffers checkpoints older than PyTorch 0.4.1 lack."""
    out = dict(state)
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked") and key not in out:
            out[key] = value.new_zeros(())
    return out


def load_original(model: Any, state: Mapping[str, Any], what: str = "checkpoint") -> None:
    """Load an original state dict into ``model`` strictly; a clear error names the mismatch."""
    state = add_missing_batch_counts(strip_prefix(state), model)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        raise ZooError(f"the {what} does not fit this config: {', '.join(parts)} keys; "
                       f"pick the matching --config")
    for key, value in state.items():
        if tuple(value.shape) != tuple(expected[key].shape):
            raise ZooError(f"the {what} does not fit this config: {key} is {tuple(value.shape)}, "
                           f"expected {tuple(expected[key].shape)}; pick the matching --config")
    model.load_state_dict(state, strict=True)


def write_model_dir(model: Any, output: Path, *, force: bool = False) -> Path:
    """Save a converted model to ``output`` atomically (config.json, model.safetensors, card)."""
    output = Path(output)
    if output.exists() and (not output.is_dir() or any(output.iterdir())) and not force:
        raise BadInputError(f"{output} exists and is not empty; choose another -o or pass --force")
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        model.save_pretrained(tmp)
        if output.exists():
            shutil.rmtree(output)
        os.replace(tmp, output)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return output
