"""DCGAN samplers: all noise comes from the per-sample SampleRNG, so sample i depends only on
(seed, i)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from zoo_core.errors import BadInputError
from zoo_core.sampler import Sampler

if TYPE_CHECKING:
    from zoo_core.rng import SampleRNG


class AncestralSampler(Sampler):
    """z ~ N(0, I), x = G(z)."""

    name = "ancestral"
    description = "z ~ N(0, I) pushed through the generator"

    def noise(self, model: Any, n: int, rng: "SampleRNG") -> torch.Tensor:
        return rng.randn(*model.latent_shape)

    def __call__(self, model: Any, n: int, rng: "SampleRNG", condition: list[Any] | None) -> torch.Tensor:
        z = self.noise(model, n, rng).to(model.device)
        return model(z)


class TruncationSampler(AncestralSampler):
    """z from a normal truncated to [-threshold, threshold] (resampled, not clipped):
    trades diversity for fidelity as the threshold shrinks."""

    name = "truncation"
    description = "z from a truncated normal: smaller threshold, less diversity, cleaner samples"
    options = {"threshold": (float, 1.0, "keep |z_j| <= threshold (resampling outliers)")}

    def noise(self, model: Any, n: int, rng: "SampleRNG") -> torch.Tensor:
        if not self.threshold > 0:
            raise BadInputError(f"truncation threshold must be positive, got {self.threshold}")
        return rng.truncated_randn(*model.latent_shape, threshold=self.threshold)
