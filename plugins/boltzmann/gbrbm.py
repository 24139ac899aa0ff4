"""The Gaussian-Bernoulli RBM with learned per-visible standard deviations (Cho, Ilin & Raiko
2011, "Improved learning of Gaussian-Bernoulli RBMs"), on standardised real-valued pixels v:

    E(v, h) = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - c.h - sum_ij (v_i / sigma_i^2) W_ij h_j,
    p(v_i | h) = N(b_i + W[i, :].h, sigma_i^2),
    p(h_j = 1 | v) = sigmoid(c_j + sum_i W_ij v_i / sigma_i^2),
    F(v) = sum_i (v_i - b_i)^2 / (2 sigma_i^2) - sum_j softplus(c_j + sum_i W_ij v_i / sigma_i^2).

sigma_i = sigma_min + softplus(rho_i) keeps every variance positive (and the density bounded
on these nearly-constant border pixels). Pixels x in [0, 1] are standardised as
v = (x - pixel mean) / one global scale; densities are reported over x (Jacobian included).
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import BoltzmannModel, GaussianVisibleMixin, TorchNoise


class GBRBM(GaussianVisibleMixin, BoltzmannModel):
    family = "gbrbm"

    def __init__(self, image_size: int = 16, hidden: int = 256, sigma_min: float = 0.05,
                 init_std: float = 0.01) -> None:
        super().__init__()
        self.image_size, self.hidden, self.sigma_min = image_size, hidden, sigma_min
        d = image_size * image_size
        self.W = nn.Parameter(torch.randn(d, hidden) * init_std)
        self.b = nn.Parameter(torch.zeros(d))
        self.c = nn.Parameter(torch.zeros(hidden))
        # sigma starts at 1 (the data are standardised)
        self.rho = nn.Parameter(torch.full((d,), math.log(math.expm1(1.0 - sigma_min))))
        self._init_standardisation(d)
        self._init_log_z(1)

    @property
    def sigma(self) -> torch.Tensor:
        return self.sigma_min + F.softplus(self.rho)

    # -- energy and conditionals ----------------------------------------------------------
    def energy(self, v: torch.Tensor, h: torch.Tensor, cond: Any = None) -> torch.Tensor:
        var = self.sigma ** 2
        return (((v - self.b) ** 2) / (2 * var)).sum(-1) - (h * self.c).sum(-1) \
            - (((v / var) @ self.W) * h).sum(-1)

    def hidden_logits(self, v: torch.Tensor) -> torch.Tensor:
        return (v / self.sigma ** 2) @ self.W + self.c

    def visible_mean(self, h: torch.Tensor) -> torch.Tensor:
        return self.b + h @ self.W.t()

    def p_h_given_v(self, v: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.hidden_logits(v))

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        return -self.log_unnorm(v)

    # -- the BoltzmannModel interface -----------------------------------------------------
    def log_unnorm(self, v: torch.Tensor, cond: Any = None, beta: float = 1.0) -> torch.Tensor:
        quad = (((v - self.b) ** 2) / (2 * self.sigma ** 2)).sum(-1)
        out = -beta * quad + F.softplus(beta * self.hidden_logits(v)).sum(-1)
        return self.with_base_term(out, v, beta)

    def _step(self, v: torch.Tensor, noise: TorchNoise, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
        h = noise.bernoulli(torch.sigmoid(beta * self.hidden_logits(v)))
        return self.tempered_gaussian(self.visible_mean(h), self.sigma ** 2, beta, noise)

    def gibbs_step(self, v: torch.Tensor, noise: TorchNoise, cond: Any = None, beta: float = 1.0) -> torch.Tensor:
        return self._step(v, noise, beta)[0]

    def to_image(self, v: torch.Tensor, noise: TorchNoise, cond: Any = None, mean: bool = True) -> torch.Tensor:
        if mean:
            v = self._step(v, noise, 1.0)[1]
        return self.unstandardise(v)
