"""Helpers shared by the Boltzmann test files: brute-force enumeration of small machines and
random parameters."""
from __future__ import annotations

import itertools

import torch

from plugins.boltzmann.rbm import RBM


def all_binary(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)))


def randomize(model: torch.nn.Module, std: float = 1.0, seed: int = 0) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * std)
        for name, buf in model.named_buffers():
            if name.startswith("base_logits"):
                buf.copy_(torch.randn(buf.shape, generator=gen))
    return model.eval()


@torch.no_grad()
def exact_rbm(model: RBM, cond=None):
    """(all v, all h, exact log Z, exact log p(v)) by enumeration of the joint."""
    vs, hs = all_binary(model.num_visible), all_binary(model.hidden)
    v = vs[:, None, :].expand(-1, len(hs), -1)
    h = hs[None, :, :].expand(len(vs), -1, -1)
    c = None if cond is None else torch.full(v.shape[:2], cond, dtype=torch.long)
    neg_e = -model.energy(v, h, c)  # (V, H)
    log_z = torch.logsumexp(neg_e.flatten(), 0)
    return vs, torch.logsumexp(neg_e, 1), log_z
