"""A trained StackGAN++ generator tree made ``factor`` times wider (``gf_dim``) computing the same
images (``zoo_core.blocks.widen``, Net2WiderNet by channel copies): a way to give the small
config's narrow branches more channels without training the tree again from scratch."""
from __future__ import annotations

import torch

from zoo_core.blocks.widen import Layer, glu_block_rules, init_stage_rules, residual_block_rules, widen_state

from .model import StackGANpp


def tree_layers(model: StackGANpp, factor: int) -> dict[str, Layer]:
    """The widening rule of every module of the tree whose width changes."""
    layers: dict[str, Layer] = {}
    h = init_stage_rules(layers, "h_net1", model.h_net1, factor)
    layers["img_net1.img.0"] = Layer(cols=h)
    for b in range(2, model.branch_num + 1):
        branch = f"h_net{b}"
        # the joint conv reads the tiled condition before the features
        h = glu_block_rules(layers, f"{branch}.jointConv", h, h.narrow, factor, "0", "1", keep=model.c_dim)
        for r in range(getattr(model, branch).num_residual):
            residual_block_rules(layers, f"{branch}.residual.{r}", h, factor)
        h = glu_block_rules(layers, f"{branch}.upsample", h, h.narrow // 2, factor)
        layers[f"img_net{b}.img.0"] = Layer(cols=h)
    return layers


def widen(model: StackGANpp, factor: int = 2, noise: float = 0.25, seed: int = 0) -> StackGANpp:
    """A new StackGANpp with ``gf_dim * factor`` whose images equal ``model``'s (in eval mode,
    and in train mode for the same batch); the CA net and text encoder are copied as they are."""
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor must be a whole number >= 1, got {factor!r}")
    config = {k: v for k, v in model.config.items() if k != "zoo_family"}
    config["gf_dim"] = model.gf_dim * factor
    wide = StackGANpp(**config)
    gen = torch.Generator().manual_seed(seed)
    wide.load_state_dict(widen_state(model.state_dict(), wide.state_dict(), tree_layers(model, factor),
                                     noise=noise, generator=gen))
    return wide.to(model.device)
