"""A trained StackGAN++ generator tree made ``factor`` times wider (``gf_dim``) computing the same
images (``zoo_core.blocks.widen``): a way to give the small config's narrow branches more
channels without training the tree again from scratch."""
from __future__ import annotations

import re

import torch

from zoo_core.blocks.widen import repeat_rows, split_columns

from .model import StackGANpp

# the only widened layers not feeding a GLU: a residual block's second conv and its batch norm
_PLAIN_ROWS = re.compile(r"\.residual\.\d+\.block\.[34]\.")


def widen(model: StackGANpp, factor: int = 2, noise: float = 0.25, seed: int = 0) -> StackGANpp:
    """A new StackGANpp with ``gf_dim * factor`` whose images equal ``model``'s (in eval mode,
    and in train mode for the same batch); the CA net and text encoder are copied as they are."""
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a whole number >= 1, got {factor!r}")
    config = {k: v for k, v in model.config.items() if k != "zoo_family"}
    config["gf_dim"] = model.gf_dim * factor
    wide = StackGANpp(**config)
    gen = torch.Generator().manual_seed(seed)
    narrow = model.state_dict()
    state = {}
    for key, target in wide.state_dict().items():
        t = narrow[key].detach().clone()
        if t.dim() and t.shape[0] != target.shape[0]:
            t = repeat_rows(t, factor, blocks=1 if _PLAIN_ROWS.search(key) else 2)
        if t.dim() > 1 and t.shape[1] != target.shape[1]:
            # a branch's joint conv reads the tiled condition before the features
            keep = model.c_dim if ".jointConv." in key else 0
            t = split_columns(t, factor, keep=keep, noise=noise, generator=gen)
        if t.shape != target.shape:
            raise RuntimeError(f"widening {key}: got {tuple(t.shape)}, expected {tuple(target.shape)}")
        state[key] = t
    wide.load_state_dict(state)
    return wide.to(model.device)
