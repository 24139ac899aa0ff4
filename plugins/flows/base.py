"""FlowModel: what RealNVP, Glow and MAF share (the data transform, exact likelihood, sampling).

A subclass builds its bijection f in the logit space and implements
``flow_forward(v) -> (eps (n, D), log|det df/dv| (n,))`` and ``flow_inverse(eps) -> v``;
everything about pixels (dequantisation, the logit transform with its Jacobian, bits/dim) is
here, from `dequantize.py`, so the three families report comparable numbers.
"""
from __future__ import annotations

import math

import torch

from zoo_core.errors import BadInputError
from zoo_core.model import GenerativeModel

from . import dequantize as dq
from .samplers import AncestralSampler


class FlowModel(GenerativeModel):
    """An exact-likelihood image flow over pixels in [0, 1]."""

    kind = "image"
    value_range = (0.0, 1.0)
    samplers = {"ancestral": AncestralSampler}
    log_prob_is_bound = False  # log_prob is exact (zoo eval reports nll_bits_per_dim)

    image_shape: tuple[int, int, int]
    alpha: float
    num_bins: int

    # -- to implement ------------------------------------------------------------------------
    def flow_forward(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def flow_inverse(self, eps: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # -- shapes --------------------------------------------------------------------------------
    @property
    def data_dim(self) -> int:
        return math.prod(self.image_shape)

    @property
    def latent_shape(self) -> tuple[int]:
        """The sampler draws eps of this shape per sample: flat, D = C*H*W."""
        return (self.data_dim,)

    def _images(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != tuple(self.image_shape):
            raise BadInputError(f"expected images of shape (n, {', '.join(map(str, self.image_shape))}),"
                                f" got {tuple(x.shape)}")
        return x.to(self.device, torch.float32)

    # -- the bijection between pixels and latents ------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixels x -> (eps (n, D), log|det d eps / dx| (n,)), the pixel -> logit Jacobian included."""
        v, logdet_pixels = dq.pixels_to_logit(self._images(x), self.num_bins, self.alpha)
        eps, logdet_flow = self.flow_forward(v)
        return eps, logdet_pixels + logdet_flow

    def decode(self, eps: torch.Tensor, clip: bool = True) -> torch.Tensor:
        """Latents (n, D) -> images (n, C, H, W), clipped to [0, 1] unless ``clip=False``."""
        v = self.flow_inverse(eps.reshape(len(eps), self.data_dim).to(self.device, torch.float32))
        return dq.logit_to_pixels(v.reshape(len(eps), *self.image_shape), self.num_bins, self.alpha, clip)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encode(x)[0]

    # -- likelihood ----------------------------------------------------------------------------
    @property
    def likelihood_space(self) -> str:
        """What `zoo eval --metrics nll` reports (it scores with ``bits_per_dim``)."""
        return (f"{self.num_bins}-level images, uniformly dequantised (an upper bound on the discrete "
                f"negative log-likelihood)")

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log density (nats per example) of pixels x (in [0, 1], or dequantised around
        it), change of variables through the flow and the logit transform (dequantize.py)."""
        eps, logdet = self.encode(x)
        return dq.standard_normal_log_prob(eps) + logdet

    def bits_per_dim(self, x: torch.Tensor, *, dequantize: bool = True, num_samples: int = 1,
                     generator: int | torch.Generator | None = 0) -> torch.Tensor:
        """Bits/dim (n,) of x as a K-level image: -log p(x~) / (D ln 2) + log2(K-1), with
        x~ = (round((K-1) x) + u - 1/2) / (K-1) and u ~ U[0, 1) from `generator` (seed 0 by
        default: the same x gets the same number), averaged over `num_samples` draws of u.
        ``dequantize=False`` scores x as given (already dequantised). An upper bound on the
        discrete negative log-likelihood (dequantize.py)."""
        if num_samples < 1:
            raise BadInputError(f"num_samples must be >= 1, got {num_samples}")
        gen = torch.Generator().manual_seed(generator) if isinstance(generator, int) else generator
        total = torch.zeros(len(x), dtype=torch.float64)
        for _ in range(num_samples):
            y = dq.dequantize(x, self.num_bins, gen) if dequantize else x
            total += dq.bits_per_dim(self.log_prob(y), self.data_dim, self.num_bins).double().cpu()
        return total / num_samples

    # -- data-dependent initialisation ----------------------------------------------------------
    @torch.no_grad()
    def data_init(self, y: torch.Tensor) -> None:
        """Run one training-mode pass so ActNorm layers (if any) initialise from this batch."""
        was = self.training
        self.train()
        self.log_prob(y)
        self.train(was)
