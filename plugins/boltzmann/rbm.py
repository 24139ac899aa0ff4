"""The Bernoulli RBM (Smolensky 1986; Hinton 2002), trained with CD-k or persistent CD.

Energy over binary visibles v (D) and hiddens h (H):  E(v, h) = -b.v - c.h - v.W.h, so

    p(h_j = 1 | v) = sigmoid(c_j + v.W[:, j]),   p(v_i = 1 | h) = sigmoid(b_i + W[i, :].h),
    F(v) = -log sum_h exp(-E(v, h)) = -b.v - sum_j softplus(c_j + v.W[:, j]).

The tempered distribution AIS and the sampler use is p_beta(v, h) ~ exp(-beta E(v, h) +
(1 - beta) b_A.v), b_A the logits of a factorial "base-rate" model fitted to the data's pixel
means (Salakhutdinov & Murray 2008). The conditional RBM (crbm.py) reuses all of this with
label-dependent biases (`biases(cond)`).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import BoltzmannModel, TorchNoise, bernoulli_log_prob, binarize


class BernoulliRBMMixin:
    """The RBM math on attributes W (D, H), b (D,), c (H,) and base_logits (rows, D).

    ``up`` and ``down`` scale the bottom-up and top-down inputs in Gibbs sampling (1 for an
    RBM; 2 for the doubled RBMs of DBM pretraining, Salakhutdinov & Hinton 2009, section 3.1).
    """

    up: float = 1.0
    down: float = 1.0

    # -- energy and conditionals ----------------------------------------------------------
    def biases(self, cond: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(visible, hidden) biases, (D,) and (H,) here; (n, D) and (n, H) when conditional."""
        return self.b, self.c

    def base(self, cond: Any = None) -> torch.Tensor:
        return self.base_logits[0]

    def energy(self, v: torch.Tensor, h: torch.Tensor, cond: Any = None) -> torch.Tensor:
        b, c = self.biases(cond)
        return -(v * b).sum(-1) - (h * c).sum(-1) - ((v @ self.W) * h).sum(-1)

    def hidden_logits(self, v: torch.Tensor, cond: Any = None) -> torch.Tensor:
        return v @ self.W + self.biases(cond)[1]

    def visible_logits(self, h: torch.Tensor, cond: Any = None) -> torch.Tensor:
        return h @ self.W.t() + self.biases(cond)[0]

    def up_logits(self, v: torch.Tensor, cond: Any = None) -> torch.Tensor:
        return self.hidden_logits(v, cond) if self.up == 1 else self.up * (v @ self.W) + self.biases(cond)[1]

    def down_logits(self, h: torch.Tensor, cond: Any = None) -> torch.Tensor:
        return self.visible_logits(h, cond) if self.down == 1 else self.down * (h @ self.W.t()) + self.biases(cond)[0]

    def p_h_given_v(self, v: torch.Tensor, cond: Any = None) -> torch.Tensor:
        return torch.sigmoid(self.hidden_logits(v, cond))

    def p_v_given_h(self, h: torch.Tensor, cond: Any = None) -> torch.Tensor:
        return torch.sigmoid(self.visible_logits(h, cond))

    def free_energy(self, v: torch.Tensor, cond: Any = None) -> torch.Tensor:
        return -self.log_unnorm(v, cond, 1.0)

    # -- the BoltzmannModel interface -----------------------------------------------------
    def log_unnorm(self, v: torch.Tensor, cond: Any = None, beta: float = 1.0) -> torch.Tensor:
        b, _ = self.biases(cond)
        out = beta * (v * b).sum(-1) + F.softplus(beta * self.hidden_logits(v, cond)).sum(-1)
        if beta != 1.0:
            out = out + (1 - beta) * (v * self.base(cond)).sum(-1)
        return out

    def base_log_prob(self, v: torch.Tensor, cond: Any = None) -> torch.Tensor:
        return bernoulli_log_prob(v, self.base(cond).expand_as(v))

    def init_state(self, n: int, noise: TorchNoise, cond: Any = None) -> torch.Tensor:
        probs = torch.sigmoid(self.base(cond)).expand(n, self.num_visible)
        return noise.bernoulli(probs.contiguous())

    def gibbs_step(self, v: torch.Tensor, noise: TorchNoise, cond: Any = None, beta: float = 1.0) -> torch.Tensor:
        h = noise.bernoulli(torch.sigmoid(beta * self.up_logits(v, cond)))
        logits = beta * self.down_logits(h, cond)
        if beta != 1.0:
            logits = logits + (1 - beta) * self.base(cond)
        return noise.bernoulli(torch.sigmoid(logits))

    def set_data_statistics(self, v: torch.Tensor, cond: Any = None) -> None:
        """Fit the base-rate model (smoothed pixel means) and start b there (Hinton's guide)."""
        p = ((v.sum(0) + 1) / (len(v) + 2)).clamp(1e-3, 1 - 1e-3)
        self.base_logits.copy_(torch.logit(p).expand_as(self.base_logits))
        with torch.no_grad():
            self.b.copy_(torch.logit(p))


class RBMLayer(BernoulliRBMMixin, nn.Module):
    """One RBM of a stack (DBN layers, DBM pretraining), on vectors rather than images."""

    def __init__(self, visible: int, hidden: int, up: float = 1.0, down: float = 1.0,
                 init_std: float = 0.01) -> None:
        super().__init__()
        self.num_visible, self.hidden, self.up, self.down = visible, hidden, up, down
        self.W = nn.Parameter(torch.randn(visible, hidden) * init_std)
        self.b = nn.Parameter(torch.zeros(visible))
        self.c = nn.Parameter(torch.zeros(hidden))
        self.register_buffer("base_logits", torch.zeros(1, visible))

    def cd_loss(self, v_pos: torch.Tensor, v_neg: torch.Tensor) -> torch.Tensor:
        """CD surrogate on the energy at h = E[h | v] (with the doubled bottom-up input when
        up = 2): its gradient is <v h'>_data - <v h'>_model, the rule of the paper's code."""
        with torch.no_grad():
            h_pos = torch.sigmoid(self.up_logits(v_pos))
            h_neg = torch.sigmoid(self.up_logits(v_neg))
        return self.energy(v_pos, h_pos).mean() - self.energy(v_neg, h_neg).mean()


class RBM(BernoulliRBMMixin, BoltzmannModel):
    """Bernoulli-Bernoulli RBM on binarised images."""

    family = "rbm"

    def __init__(self, image_size: int = 16, hidden: int = 500, init_std: float = 0.01) -> None:
        super().__init__()
        self.image_size, self.hidden = image_size, hidden
        d = image_size * image_size
        self.W = nn.Parameter(torch.randn(d, hidden) * init_std)
        self.b = nn.Parameter(torch.zeros(d))  # visible biases
        self.c = nn.Parameter(torch.zeros(hidden))  # hidden biases
        self.register_buffer("base_logits", torch.zeros(self.num_base_rows(), d))
        self._init_log_z(self.num_base_rows())

    def num_base_rows(self) -> int:
        return 1

    def to_image(self, v: torch.Tensor, noise: TorchNoise, cond: Any = None, mean: bool = True) -> torch.Tensor:
        if mean:  # one more half-sweep: E[v | h] with h ~ p(h | v)
            v = self.p_v_given_h(noise.bernoulli(self.p_h_given_v(v, cond)), cond)
        return v.reshape(len(v), *self.image_shape)

    def prepare(self, x01: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> the model's visible vectors (binarised at 0.5)."""
        return binarize(self.check_images(x01)).reshape(len(x01), -1)

    @torch.no_grad()
    def unnormalised_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_unnorm(self.prepare(x))
