"""The spike-and-slab RBM (Courville, Bergstra & Bengio 2011) on standardised pixels v (D),
with binary spikes h (N) and real slabs s (N), in its mu-ssRBM form (slab means mu_j, from
the same authors' ICML 2011 paper; mu = 0 is the AISTATS model, whose p(v | h) has mean
zero and cannot put a digit's strokes where they belong):

    E(v, s, h) = 1/2 v' Lambda v + 1/2 sum_j h_j v' Phi_j v - sum_j h_j s_j W_j'v
                 + 1/2 sum_j alpha_j (s_j - mu_j h_j)^2 - sum_j b_j h_j

(Lambda, Phi_j >= 0 diagonal). Integrating the slabs out,

    p(h_j = 1 | v) = sigmoid(g_j(v)),  g_j = b_j - 1/2 v'Phi_j v + (W_j'v)^2 / (2 alpha_j) + mu_j W_j'v,
    p(s_j | v, h_j) = N(h_j (W_j'v / alpha_j + mu_j), 1 / alpha_j),
    p(v | s, h) = N(C^-1 sum_j W_j s_j h_j, C^-1),  C = Lambda + sum_j h_j Phi_j,
    F(v) = 1/2 v'Lambda v - sum_j softplus(g_j(v))

(up to a constant, sum_j 1/2 log(2 pi / alpha_j), that cancels in log Z). The model is
normalisable only while Lambda - sum_j W_j W_j' / alpha_j is positive definite; `constrain()`
(called after every training step) rescales W to keep its top eigenvalue below 1 after
whitening by Lambda.

``learn_alpha=False`` keeps the slab precisions fixed (at 1); ``init_mu`` starts the slab
means away from 0, where the model is symmetric under v -> -v and the spikes learn nothing.
With the mean option the sampler returns E[v | h], the slabs integrated out.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import BoltzmannModel, GaussianVisibleMixin, TorchNoise

MARGIN = 0.95  # keep lambda_max(Lambda^-1/2 W diag(1/alpha) W' Lambda^-1/2) below this


def _top_eigenvalue(m: torch.Tensor, iters: int = 50) -> float:
    u = torch.randn(len(m), generator=torch.Generator().manual_seed(0), dtype=m.dtype).to(m.device)
    for _ in range(iters):
        u = m @ u
        u = u / u.norm().clamp_min(1e-30)
    return float(u @ (m @ u))


class SSRBM(GaussianVisibleMixin, BoltzmannModel):
    family = "ssrbm"

    def __init__(self, image_size: int = 16, hidden: int = 256, init_std: float = 0.01,
                 min_precision: float = 0.1, init_precision: float = 1.0, learn_alpha: bool = True,
                 init_mu: float = 0.0) -> None:
        super().__init__()
        self.image_size, self.hidden, self.min_precision = image_size, hidden, min_precision
        self.init_precision, self.learn_alpha, self.init_mu = init_precision, learn_alpha, init_mu
        d = image_size * image_size
        self.W = nn.Parameter(torch.randn(d, hidden) * init_std)
        self.b = nn.Parameter(torch.full((hidden,), -2.0))  # spike biases
        if learn_alpha:  # slab precisions
            self.log_alpha = nn.Parameter(torch.zeros(hidden))
        else:
            self.register_buffer("log_alpha", torch.zeros(hidden))
        self.mu = nn.Parameter(torch.full((hidden,), float(init_mu)))  # slab means
        self.phi_raw = nn.Parameter(torch.full((hidden, d), -5.0))  # Phi_j = softplus(.)
        self.log_lambda = nn.Parameter(torch.full((d,), math.log(init_precision - min_precision)))
        self._init_standardisation(d)
        self._init_log_z(1)

    @property
    def alpha(self) -> torch.Tensor:
        return torch.exp(self.log_alpha)

    @property
    def phi(self) -> torch.Tensor:
        return F.softplus(self.phi_raw)

    @property
    def lam(self) -> torch.Tensor:
        return self.min_precision + torch.exp(self.log_lambda)

    # -- energy and conditionals ----------------------------------------------------------
    def energy(self, v: torch.Tensor, s: torch.Tensor, h: torch.Tensor, cond: Any = None) -> torch.Tensor:
        return (0.5 * (v * v * self.lam).sum(-1) + 0.5 * (h * ((v * v) @ self.phi.t())).sum(-1)
                - (h * s * (v @ self.W)).sum(-1) + 0.5 * (self.alpha * (s - self.mu * h) ** 2).sum(-1)
                - (self.b * h).sum(-1))

    def spike_logits(self, v: torch.Tensor) -> torch.Tensor:
        wv = v @ self.W
        return self.b - 0.5 * (v * v) @ self.phi.t() + wv ** 2 / (2 * self.alpha) + self.mu * wv

    def p_h_given_v(self, v: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.spike_logits(v))

    def group_activity(self, v: torch.Tensor) -> torch.Tensor:
        """Mean spike probability of each hidden unit (the trainer's sparsity target applies)."""
        return self.p_h_given_v(v).mean(0)

    def slab_mean(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return h * ((v @ self.W) / self.alpha + self.mu)

    def visible_precision(self, h: torch.Tensor) -> torch.Tensor:
        return self.lam + h @ self.phi

    def visible_mean_given_h(self, h: torch.Tensor) -> torch.Tensor:
        """E[v | h] with the slabs integrated out: (C - sum_j h_j W_j W_j' / alpha_j)^-1 W (mu h)."""
        wh = self.W[None] * (h / self.alpha.sqrt())[:, None, :]  # (n, D, N)
        prec = torch.diag_embed(self.visible_precision(h)) - wh @ wh.transpose(1, 2)
        return torch.linalg.solve(prec, ((h * self.mu) @ self.W.t()).unsqueeze(-1)).squeeze(-1)

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        return -self.log_unnorm(v)

    @torch.no_grad()
    def constrain(self) -> float:
        """Rescale W so that Lambda - sum_j W_j W_j' / alpha_j stays positive definite."""
        a = self.W / self.lam.sqrt()[:, None] / self.alpha.sqrt()
        top = _top_eigenvalue(a @ a.t()) * 1.01  # power iteration slightly underestimates
        if top > MARGIN:
            self.W.mul_(math.sqrt(MARGIN / top))
        return top

    # -- the BoltzmannModel interface -----------------------------------------------------
    def log_unnorm(self, v: torch.Tensor, cond: Any = None, beta: float = 1.0) -> torch.Tensor:
        out = -beta * 0.5 * (v * v * self.lam).sum(-1) + F.softplus(beta * self.spike_logits(v)).sum(-1)
        return self.with_base_term(out, v, beta)

    def _step(self, v: torch.Tensor, noise: TorchNoise, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
        beta = max(beta, 1e-8)
        h = noise.bernoulli(torch.sigmoid(beta * self.spike_logits(v)))
        s = self.slab_mean(v, h) + noise.randn_like(h) / (beta * self.alpha).sqrt()
        prec = self.visible_precision(h)
        return self.tempered_gaussian((h * s) @ self.W.t() / prec, 1 / prec, beta, noise)

    def gibbs_step(self, v: torch.Tensor, noise: TorchNoise, cond: Any = None, beta: float = 1.0) -> torch.Tensor:
        return self._step(v, noise, beta)[0]

    def to_image(self, v: torch.Tensor, noise: TorchNoise, cond: Any = None, mean: bool = True) -> torch.Tensor:
        if mean:  # h ~ p(h | v), then E[v | h] with the slabs integrated out
            v = self.visible_mean_given_h(noise.bernoulli(self.p_h_given_v(v)))
        return self.unstandardise(v)
