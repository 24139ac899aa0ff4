"""Conditioning augmentation (StackGAN, Zhang et al. 2017, section 3.1; original class
``CA_NET`` in hanzhanggit/StackGAN-Pytorch, StackGAN-v2 and taoxugit/AttnGAN code/model.py).

The text embedding phi_t is mapped by a fully connected layer (``fc``) to the mean mu and the
log-variance of a Gaussian, and the generator's condition is c = mu + sigma * eps with eps ~
N(0, I). The KL term KL(N(mu, sigma^2) || N(0, I)) regularises the conditioning manifold.

Two variants, as in the originals:
- ``glu=True`` (StackGAN++, AttnGAN, MirrorGAN): fc to 4 * c_dim, a GLU halves it to 2 * c_dim,
  split into mu and logvar;
- ``glu=False`` (StackGAN): fc to 2 * c_dim and a ReLU.

``forward(text_embedding, eps=None)`` draws eps from torch's global RNG when not given; a
sampler passes eps from its per-sample SampleRNG (``rng.randn(c_dim)``) so that sample i
depends only on (seed, i).
"""
from __future__ import annotations

import torch
from torch import nn

from .upblocks import GLU


class CANet(nn.Module):
    """``CA_NET(t_dim, c_dim)``: text embedding -> (c_code, mu, logvar)."""

    def __init__(self, t_dim: int, c_dim: int, glu: bool = True) -> None:
        super().__init__()
        self.t_dim, self.c_dim, self.glu = t_dim, c_dim, glu
        self.fc = nn.Linear(t_dim, c_dim * (4 if glu else 2), bias=True)
        self.relu = GLU() if glu else nn.ReLU()  # the original's attribute name for both

    def encode(self, text_embedding: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.relu(self.fc(text_embedding))
        return x[:, : self.c_dim], x[:, self.c_dim:]

    @staticmethod
    def reparametrize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor | None = None) -> torch.Tensor:
        if eps is None:
            eps = torch.randn_like(mu)
        return mu + eps.to(mu) * torch.exp(0.5 * logvar)

    def forward(self, text_embedding: torch.Tensor,
                eps: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(text_embedding)
        return self.reparametrize(mu, logvar, eps), mu, logvar


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per example, summed over dimensions: (n,)."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).flatten(1).sum(1)


def kl_loss(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The originals' ``KL_loss``: the same quantity averaged over examples *and* dimensions
    (so it equals ``kl_divergence(...).mean() / c_dim``); the originals' KL weights (their
    configs' TRAIN.COEFF.KL) multiply this form, not the per-example sum."""
    return -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())


CA_NET = CANet
