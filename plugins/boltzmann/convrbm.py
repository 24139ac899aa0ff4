"""The convolutional RBM with probabilistic max-pooling (Lee, Grosse, Ranganath & Ng 2009).

Binary visible image v (1 x S x S); K groups of binary hidden maps h^k (M x M, M = S - f + 1)
share one f x f filter W^k each (weight sharing); hidden units are partitioned into C x C
blocks B_a, at most one unit per block on (the block's pooling unit is on iff one is). With
I^k = W^k * v + b_k (valid cross-correlation),

    E(v, h) = -sum_k sum_ij h^k_ij I^k_ij - c.v,
    p(h^k_ij = 1 | v) = exp(I^k_ij) / (1 + sum_{(i',j') in B_a} exp(I^k_i'j')),
    p(v = 1 | h) = sigmoid(c + sum_k W^k (*) h^k)     (full convolution),
    F(v) = -c.v - sum_{k, a} log(1 + sum_{ij in B_a} exp(I^k_ij)).

One deviation from the paper: the visible bias c is per pixel, not one shared scalar (the
digits' borders are always empty, which a shared bias cannot say).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import BoltzmannModel, TorchNoise, bernoulli_log_prob, binarize


class ConvRBM(BoltzmannModel):
    family = "convrbm"

    def __init__(self, image_size: int = 16, filters: int = 32, filter_size: int = 9, pool: int = 2,
                 init_std: float = 0.01) -> None:
        super().__init__()
        m = image_size - filter_size + 1
        if m <= 0 or m % pool:
            raise ValueError(f"hidden maps of side {m} do not split into {pool}x{pool} pooling blocks")
        self.image_size, self.filters, self.filter_size, self.pool = image_size, filters, filter_size, pool
        self.map_size = m
        self.W = nn.Parameter(torch.randn(filters, 1, filter_size, filter_size) * init_std)
        self.hb = nn.Parameter(torch.zeros(filters))  # one bias per filter group
        # Lee et al. share one visible bias; digits' always-empty borders want one per pixel
        self.vb = nn.Parameter(torch.zeros(image_size * image_size))
        self.register_buffer("base_logits", torch.zeros(1, image_size * image_size))
        self._init_log_z(1)

    # -- energy and conditionals ----------------------------------------------------------
    def _img(self, v: torch.Tensor) -> torch.Tensor:
        return v.reshape(len(v), 1, self.image_size, self.image_size)

    def hidden_input(self, v: torch.Tensor) -> torch.Tensor:
        """I (n, K, M, M)."""
        return F.conv2d(self._img(v), self.W) + self.hb[None, :, None, None]

    def _blocks(self, t: torch.Tensor) -> torch.Tensor:
        """(n, K, M, M) -> (n, K, M/C, M/C, C*C)."""
        n, k, m, _ = t.shape
        c = self.pool
        return t.reshape(n, k, m // c, c, m // c, c).permute(0, 1, 2, 4, 3, 5).reshape(n, k, m // c, m // c, c * c)

    def _unblocks(self, t: torch.Tensor) -> torch.Tensor:
        n, k, a, _, _ = t.shape
        c = self.pool
        return t.reshape(n, k, a, a, c, c).permute(0, 1, 2, 4, 3, 5).reshape(n, k, a * c, a * c)

    def energy(self, v: torch.Tensor, h: torch.Tensor, cond: Any = None) -> torch.Tensor:
        """E(v, h) for h (n, K, M, M) obeying the one-per-block constraint."""
        return -(h * self.hidden_input(v)).flatten(1).sum(1) - (self.vb * v.flatten(1)).sum(1)

    def block_logits(self, v: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        """Logits of each block's C*C + 1 states (last: all off)."""
        i = self._blocks(beta * self.hidden_input(v))
        return torch.cat([i, torch.zeros_like(i[..., :1])], -1)

    def p_h_given_v(self, v: torch.Tensor) -> torch.Tensor:
        return self._unblocks(torch.softmax(self.block_logits(v), -1)[..., :-1])

    def group_activity(self, v: torch.Tensor) -> torch.Tensor:
        """Mean p(h = 1 | v) of each filter group (the sparsity target applies to it)."""
        return self.p_h_given_v(v).mean((0, 2, 3))

    def pool_probs(self, v: torch.Tensor) -> torch.Tensor:
        """p(pooling unit on | v), (n, K, M/C, M/C)."""
        return 1 - torch.softmax(self.block_logits(v), -1)[..., -1]

    def visible_logits(self, h: torch.Tensor) -> torch.Tensor:
        return F.conv_transpose2d(h, self.W).flatten(1) + self.vb

    def sample_h(self, v: torch.Tensor, noise: TorchNoise, beta: float = 1.0) -> torch.Tensor:
        probs = torch.softmax(self.block_logits(v, beta), -1)
        u = noise.rand_like(probs[..., :1])
        idx = (u > probs.cumsum(-1)).sum(-1, keepdim=True).clamp_max(probs.shape[-1] - 1)
        onehot = torch.zeros_like(probs).scatter_(-1, idx, 1.0)
        return self._unblocks(onehot[..., :-1])

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        return -self.log_unnorm(v)

    # -- the BoltzmannModel interface -----------------------------------------------------
    def log_unnorm(self, v: torch.Tensor, cond: Any = None, beta: float = 1.0) -> torch.Tensor:
        v = v.flatten(1)
        out = beta * (self.vb * v).sum(1) + torch.logsumexp(self.block_logits(v, beta), -1).flatten(1).sum(1)
        if beta != 1.0:
            out = out + (1 - beta) * (v * self.base_logits[0]).sum(1)
        return out

    def base_log_prob(self, v: torch.Tensor, cond: Any = None) -> torch.Tensor:
        return bernoulli_log_prob(v, self.base_logits[0].expand_as(v))

    def init_state(self, n: int, noise: TorchNoise, cond: Any = None) -> torch.Tensor:
        return noise.bernoulli(torch.sigmoid(self.base_logits[0]).expand(n, self.num_visible).contiguous())

    def gibbs_step(self, v: torch.Tensor, noise: TorchNoise, cond: Any = None, beta: float = 1.0) -> torch.Tensor:
        logits = beta * self.visible_logits(self.sample_h(v, noise, beta))
        if beta != 1.0:
            logits = logits + (1 - beta) * self.base_logits[0]
        return noise.bernoulli(torch.sigmoid(logits))

    def to_image(self, v: torch.Tensor, noise: TorchNoise, cond: Any = None, mean: bool = True) -> torch.Tensor:
        if mean:
            v = torch.sigmoid(self.visible_logits(self.sample_h(v, noise)))
        return v.reshape(len(v), *self.image_shape)

    def prepare(self, x01: torch.Tensor) -> torch.Tensor:
        return binarize(self.check_images(x01)).reshape(len(x01), -1)

    def set_data_statistics(self, v: torch.Tensor, cond: Any = None) -> None:
        p = ((v.sum(0) + 1) / (len(v) + 2)).clamp(1e-3, 1 - 1e-3)
        self.base_logits.copy_(torch.logit(p)[None])
        with torch.no_grad():
            self.vb.copy_(torch.logit(p))

    @torch.no_grad()
    def unnormalised_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_unnorm(self.prepare(x))
