"""VAE samplers: all noise comes from the per-sample SampleRNG."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from zoo_core.sampler import Sampler

if TYPE_CHECKING:
    from zoo_core.rng import SampleRNG


class AncestralSampler(Sampler):
    """z ~ N(0, I), then the decoder mean E[x|z] (default) or a draw x ~ p(x|z)."""

    name = "ancestral"
    description = "z ~ N(0, I) through the decoder; its mean, or a draw from p(x|z)"
    options = {"mean": (bool, True, "return the decoder mean (False: draw x ~ p(x|z))")}

    def noise(self, model: Any, n: int, rng: "SampleRNG") -> torch.Tensor:
        return rng.randn(model.latent)

    def __call__(self, model: Any, n: int, rng: "SampleRNG", condition: list[Any] | None) -> torch.Tensor:
        z = self.noise(model, n, rng).to(model.device)
        if self.mean:
            return model.decoder_mean(z)
        return model.sample_x(z, rng)
