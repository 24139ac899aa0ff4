"""Softening: images averaged over 2x2 blocks and resized back to their size.

A shape drawn at the image's resolution survives this about as well as a real one (real shapes
images lose about 0.03 of the attribute classifier's first-shape accuracy); a reading that leans
on pixel-level detail (ragged fringes, checkerboards) does not. scripts/probe_softened.py scores
models with it, and the attentional trainers' ``soften`` option trains and selects with it."""
from __future__ import annotations

import torch
import torch.nn.functional as F

SOFTEN_FROM = 64  # stages at least this large are softened; smaller ones have no pixels to spare


def soften(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) images averaged over 2x2 blocks and resized back (bilinear) to (H, W); any
    value range (a convex mix of the input's values)."""
    height, width = images.shape[-2:]
    return F.interpolate(F.avg_pool2d(images.float(), 2), size=(height, width), mode="bilinear",
                         align_corners=False)


def softens(image_size: int) -> bool:
    """Whether a stage of this image size is softened (``SOFTEN_FROM``)."""
    return image_size >= SOFTEN_FROM
