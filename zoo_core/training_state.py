"""What continuing a training run needs beyond the published weights (discriminators, optimiser
moments), kept as one safetensors file so that nothing is ever unpickled.

Keys: ``NAME/KEY`` for a module's state dict, ``NAME@INDEX/KEY`` for the per-parameter state of
an optimiser (Adam's ``step``, ``exp_avg``, ``exp_avg_sq``). Hyperparameters (learning rates,
betas) are not stored: the optimiser being loaded keeps its own.
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import torch
from safetensors.torch import load_file, save

from .atomic import write_bytes_atomic


def save_training_state(path: str | os.PathLike[str], modules: Mapping[str, torch.nn.Module],
                        optimizers: Mapping[str, torch.optim.Optimizer]) -> None:
    """Write the modules' weights and the optimisers' moments to ``path`` (atomically)."""
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"{name}/{key}"] = value.detach().cpu().contiguous()
    for name, opt in optimizers.items():
        for index, state in opt.state_dict()["state"].items():
            for key, value in state.items():
                tensor = value if torch.is_tensor(value) else torch.tensor(value)
                tensors[f"{name}@{index}/{key}"] = tensor.detach().cpu().contiguous()
    write_bytes_atomic(path, save(tensors))


def load_training_state(path: str | os.PathLike[str], modules: Mapping[str, torch.nn.Module],
                        optimizers: Mapping[str, torch.optim.Optimizer],
                        lenient: Sequence[str] = (), optional: Sequence[str] = ()) -> list[str]:
    """Restore what ``save_training_state`` wrote into modules and optimisers built the same way;
    a missing or extra entry, or moments that do not fit, is an error (the run was saved with
    another setup).

    The optimisers named in ``lenient`` keep fresh moments, instead of failing, when the saved
    ones do not fit their parameters (e.g. a generator that has grown since); returns their names.
    The modules named in ``optional`` stay fresh when the file has no entry for them (parts added
    to a setup since the file was written); an optimiser with no entries always starts fresh.
    """
    tensors = load_file(str(path))
    used: set[str] = set()
    for name, module in modules.items():
        prefix = f"{name}/"
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        if not state and name in optional:
            continue
        module.load_state_dict(state)
        used.update(prefix + k for k in state)
    dropped = []
    for name, opt in optimizers.items():
        prefix = f"{name}@"
        per_param: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith(prefix):
                index, _, field = key[len(prefix):].partition("/")
                per_param.setdefault(int(index), {})[field] = value
                used.add(key)
        if not _moments_fit(opt, per_param):
            if name not in lenient:
                raise ValueError(f"{path}: the saved moments of {name!r} do not fit its parameters "
                                 f"(the model changed since); start a fresh state file")
            dropped.append(name)
            continue
        saved = opt.state_dict()
        saved["state"] = per_param
        opt.load_state_dict(saved)  # moves each moment to its parameter's device
    extra = sorted(set(tensors) - used)
    if extra:
        raise ValueError(f"{path}: entries for modules or optimisers not given: {', '.join(extra[:5])}")
    return dropped


def _moments_fit(opt: torch.optim.Optimizer, per_param: Mapping[int, Mapping[str, torch.Tensor]]) -> bool:
    params = [p for group in opt.param_groups for p in group["params"]]
    if per_param and set(per_param) != set(range(len(params))):
        return False
    return all(v.shape == params[i].shape for i, fields in per_param.items()
               for k, v in fields.items() if k.startswith("exp_avg"))
