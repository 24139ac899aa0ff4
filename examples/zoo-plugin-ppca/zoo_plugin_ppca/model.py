"""Probabilistic PCA (Tipping & Bishop, 1999) as a zoo `GenerativeModel`.

The generative story, for data x in R^D (here a flattened 32x32 grey image, D = 1024):

    z ~ N(0, I_q),    x = W z + mu + sigma * eps,    eps ~ N(0, I_D)

so x ~ N(mu, C) with C = W W^T + sigma^2 I_D. The maximum-likelihood fit is closed form (see
`zoo_plugin_ppca.fit`), and the exact log-density is cheap through the q x q matrix
M = W^T W + sigma^2 I_q (Woodbury identity and the matrix determinant lemma):

    log|C|      = (D - q) log sigma^2 + log|M|
    e^T C^-1 e  = (|e|^2 - e^T W M^-1 W^T e) / sigma^2,   e = x - mu

This module imports torch; the plugin's __init__ names it by import path only.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from zoo_core.errors import BadInputError
from zoo_core.model import GenerativeModel
from zoo_core.sampler import Sampler

if TYPE_CHECKING:
    from zoo_core.rng import SampleRNG


class AncestralSampler(Sampler):
    """z ~ N(0, I_q), eps ~ N(0, I_D), x = W z + mu + sigma eps.

    Every random number comes from `rng`, the per-sample streams the zoo hands in, so sample i
    depends only on (seed, i) however many samples are drawn and in whatever batches.
    """

    name = "ancestral"
    description = "z ~ N(0, I), x = W z + mu + sigma * eps (exact samples of the model)"
    options = {
        "noise": (bool, True, "add the isotropic sigma * eps term (false: the noise-free mean W z + mu)"),
        "temperature": (float, 1.0, "scale z and eps by this factor (1 = the model's distribution)"),
    }

    def __call__(self, model: "PPCA", n: int, rng: "SampleRNG", condition: list[Any] | None) -> torch.Tensor:
        if not self.temperature >= 0:
            raise BadInputError(f"temperature must be >= 0, got {self.temperature}")
        # Draw z and eps in a fixed order, always: `noise` changes the output, not the streams.
        z = rng.randn(model.latent_dim).to(model.device, model.W.dtype)
        eps = rng.randn(model.data_dim).to(model.device, model.W.dtype)
        x = model.mean_of(z * self.temperature)
        if self.noise:
            x = x + model.sigma * self.temperature * eps
        return x.view(n, *model.image_shape)


class PPCA(GenerativeModel):
    """Probabilistic PCA over images of ``channels x image_size x image_size`` in [0, 1].

    Parameters: ``W`` (D x q), ``mu`` (D) and ``log_sigma2`` (a scalar); hyperparameters (what
    config.json holds) are the __init__ keyword arguments.
    """

    family = "ppca"
    kind = "image"
    value_range = (0.0, 1.0)
    samplers = {"ancestral": AncestralSampler}

    def __init__(self, image_size: int = 32, channels: int = 1, latent_dim: int = 16) -> None:
        super().__init__()
        if image_size < 1 or channels < 1:
            raise ValueError(f"image_size and channels must be positive, got {image_size}, {channels}")
        self.image_size, self.channels, self.latent_dim = image_size, channels, latent_dim
        self.data_dim = channels * image_size * image_size
        if not 1 <= latent_dim < self.data_dim:
            raise ValueError(f"latent_dim must be in [1, {self.data_dim - 1}], got {latent_dim}")
        self.W = nn.Parameter(torch.zeros(self.data_dim, latent_dim))
        self.mu = nn.Parameter(torch.zeros(self.data_dim))
        self.log_sigma2 = nn.Parameter(torch.zeros(()))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.image_size, self.image_size)

    @property
    def sigma2(self) -> torch.Tensor:
        return self.log_sigma2.exp()

    @property
    def sigma(self) -> torch.Tensor:
        return (0.5 * self.log_sigma2).exp()

    def mean_of(self, z: torch.Tensor) -> torch.Tensor:
        """W z + mu for latents z of shape (n, q); returns (n, D)."""
        return z @ self.W.T + self.mu

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The noise-free images W z + mu, shape (n, C, H, W)."""
        return self.mean_of(z).view(-1, *self.image_shape)

    def covariance(self) -> torch.Tensor:
        """The model covariance C = W W^T + sigma^2 I (D x D; for checks, not for speed)."""
        eye = torch.eye(self.data_dim, dtype=self.W.dtype, device=self.W.device)
        return self.W @ self.W.T + self.sigma2 * eye

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2 or x[0].numel() != self.data_dim:
            raise BadInputError(
                f"expected inputs of shape (n, {', '.join(map(str, self.image_shape))}) or (n, {self.data_dim}), "
                f"got {tuple(x.shape)}")
        return x.reshape(x.shape[0], self.data_dim)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact Gaussian log-density log N(x; mu, W W^T + sigma^2 I) in nats, one per example.

        Computed in float64 through the q x q matrix M, and returned in x's floating dtype.
        """
        out_dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        e = self._flat(x).to(self.W.device, torch.float64) - self.mu.double()
        W, s2 = self.W.double(), self.sigma2.double()
        q, d = self.latent_dim, self.data_dim
        M = W.T @ W + s2 * torch.eye(q, dtype=torch.float64, device=W.device)
        L = torch.linalg.cholesky(M)
        proj = e @ W  # (n, q): W^T e
        sol = torch.cholesky_solve(proj.T, L).T  # M^-1 W^T e
        quad = ((e * e).sum(1) - (proj * sol).sum(1)) / s2
        logdet = (d - q) * torch.log(s2) + 2 * torch.log(torch.diagonal(L)).sum()
        return (-0.5 * (d * math.log(2 * math.pi) + logdet + quad)).to(out_dtype)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean E[z | x] = M^-1 W^T (x - mu), shape (n, q)."""
        e = self._flat(x).to(self.W) - self.mu
        M = self.W.T @ self.W + self.sigma2 * torch.eye(self.latent_dim, dtype=self.W.dtype, device=self.W.device)
        return torch.linalg.solve(M, (e @ self.W).T).T
