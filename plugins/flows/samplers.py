"""Flow samplers: eps ~ N(0, T^2 I) from the per-sample SampleRNG, pushed through the inverse flow.

All three families expose ``latent_shape`` (a flat (D,)) and ``decode(eps)``, so one sampler
serves them; sample i depends only on (seed, i) since the inverse flow uses no batch statistics
(ActNorm is data-initialised once, BatchNormFlow uses its running averages in eval mode).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from zoo_core.errors import BadInputError
from zoo_core.sampler import Sampler

if TYPE_CHECKING:
    from zoo_core.rng import SampleRNG


class AncestralSampler(Sampler):
    """eps ~ N(0, T^2 I), x = f^{-1}(eps) mapped back through the inverse logit to [0, 1].

    A temperature below 1 (Glow sec. 5, Parmar et al. 2018) trades diversity for cleaner digits.
    """

    name = "ancestral"
    description = "eps ~ N(0, T^2 I) through the inverse flow (temperature T, default 1)"
    options = {"temperature": (float, 1.0, "standard deviation T of the latent: eps ~ N(0, T^2 I)")}

    def __call__(self, model: Any, n: int, rng: "SampleRNG", condition: list[Any] | None) -> torch.Tensor:
        if not self.temperature >= 0:
            raise BadInputError(f"temperature must be >= 0, got {self.temperature}")
        eps = rng.randn(*model.latent_shape).to(model.device) * self.temperature
        return model.decode(eps)
