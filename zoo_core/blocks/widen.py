"""Function-preserving widening of a trained generator (Net2WiderNet, Chen et al. 2016, by
channel copies): every widened feature map holds ``factor`` copies of the old channels, in
order (channel i and i + C, ...), so the wider network computes what the narrow one did and
training continues from there with more capacity instead of from scratch.

A layer that produces a widened map repeats its output rows (and its batch-norm entries) as
whole copies; a layer feeding a GLU holds two blocks, values then gates, and each block is
copied on its own. A layer that reads a widened map splits each input weight into ``factor``
shares that sum to the old weight, so reading the copies gives the old sum; the shares differ
by zero-sum noise so that the copies receive different gradients and drift apart."""
from __future__ import annotations

import torch


def repeat_rows(t: torch.Tensor, factor: int, blocks: int = 1) -> torch.Tensor:
    """``t`` with dim 0 made ``factor`` times longer: each of its ``blocks`` equal parts (2 for
    a layer feeding a GLU) repeated ``factor`` times in place, [a, b] -> [a, a, b, b]."""
    if t.shape[0] % blocks:
        raise ValueError(f"{t.shape[0]} rows do not split into {blocks} blocks")
    return torch.cat([part.repeat(factor, *([1] * (t.dim() - 1))) for part in t.chunk(blocks, 0)], 0)


def split_columns(w: torch.Tensor, factor: int, keep: int = 0, noise: float = 0.0,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """``w`` (out, in, ...) reading ``keep`` unchanged input channels and then features that now
    come as ``factor`` copies: the features' weights become ``factor`` shares summing to the old
    weight (its ``1 / factor`` plus zero-sum noise of ``noise`` times the weight's std)."""
    fixed, feats = w[:, :keep], w[:, keep:]
    shares = feats.unsqueeze(0).repeat(factor, *([1] * feats.dim())) / factor
    if noise > 0 and factor > 1:
        eps = torch.randn(shares.shape, generator=generator, dtype=w.dtype) * noise * float(feats.std())
        shares = shares + (eps - eps.mean(0, keepdim=True))
    return torch.cat([fixed, *shares.unbind(0)], 1)
