"""A trained StackGAN++ generator tree made ``factor`` times wider (``gf_dim``) computing the same
images (``zoo_core.blocks.widen``, Net2WiderNet by channel copies): a way to give the small
config's narrow branches more channels without training the tree again from scratch."""
from __future__ import annotations

import torch

from zoo_core.blocks.widen import ChannelMap, Layer, widen_state

from .model import StackGANpp


def tree_layers(model: StackGANpp, factor: int) -> dict[str, Layer]:
    """The widening rule of every module of the tree whose width changes."""
    copies = ChannelMap.copies
    layers: dict[str, Layer] = {}

    def glu_block(name: str, cin: ChannelMap | None, cout: int, conv: str, norm: str, keep: int = 0) -> ChannelMap:
        out = copies(cout, factor)
        layers[f"{name}.{conv}"] = Layer(rows=out, cols=cin, glu=True, before_norm=True, keep=keep)
        layers[f"{name}.{norm}"] = Layer(rows=out, glu=True, norm=True)
        return out

    trunk = model.h_net1
    width = trunk.gf_dim
    # the fc's rows are channel-major (channel, 4x4 position): copying them in order copies channels
    glu_block("h_net1", None, width * 16, "fc.0", "fc.1")
    h = copies(width, factor)
    k = 1
    while isinstance(getattr(trunk, f"upsample{k}", None), torch.nn.Sequential):
        width //= 2
        h = glu_block(f"h_net1.upsample{k}", h, width, "1", "2")
        k += 1
    layers["img_net1.img.0"] = Layer(cols=h)
    for b in range(2, model.branch_num + 1):
        branch = f"h_net{b}"
        # the joint conv reads the tiled condition before the features
        h = glu_block(f"{branch}.jointConv", h, width, "0", "1", keep=model.c_dim)
        for r in range(getattr(model, branch).num_residual):
            block = f"{branch}.residual.{r}.block"
            mid = glu_block(block, h, width, "0", "1")
            layers[f"{block}.3"] = Layer(rows=h, cols=mid, before_norm=True)
            layers[f"{block}.4"] = Layer(rows=h, norm=True)
        width //= 2
        h = glu_block(f"{branch}.upsample", h, width, "1", "2")
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
