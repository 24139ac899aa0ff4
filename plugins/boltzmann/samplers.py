"""The block Gibbs sampler every Boltzmann family here uses.

Each sample is its own Markov chain: it starts from a draw of the model's base distribution
(factorial, fitted to the data's pixel marginals) and runs ``burn_in + steps`` block-Gibbs
sweeps with noise from the per-sample SampleRNG, so sample i depends only on (seed, i). With
one returned state per chain, ``burn_in`` and ``steps`` simply add up; they are kept apart for
the shared sampler interface (and a chain count would be meaningless: there is one per sample).
Gibbs sampling has no step size. For a deep belief net the chain runs in the top RBM and the
image comes from a directed pass down (the model's ``to_image``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from zoo_core.errors import BadInputError
from zoo_core.sampler import Sampler

if TYPE_CHECKING:
    from zoo_core.rng import SampleRNG


class GibbsSampler(Sampler):
    """Block Gibbs: alternate p(h | v) and p(v | h) (all hidden layers for deep models)."""

    name = "gibbs"
    description = "block Gibbs sampling, one chain per sample, from the base distribution"
    options = {
        "steps": (int, 1000, "Gibbs sweeps after burn-in (each sample is its own chain)"),
        "burn_in": (int, 0, "Gibbs sweeps before the `steps` sweeps (they add up: one state is kept)"),
        "mean": (bool, True, "return the final p(v | h) means instead of a binary/Gaussian draw"),
    }

    def __call__(self, model: Any, n: int, rng: "SampleRNG", condition: list[Any] | None) -> torch.Tensor:
        from .base import RNGNoise

        if self.steps < 0 or self.burn_in < 0:
            raise BadInputError(f"steps and burn_in must be >= 0, got {self.steps} and {self.burn_in}")
        noise = RNGNoise(rng)
        cond = model.encode_condition(condition, n)
        state = model.init_state(n, noise, cond)
        for _ in range(self.burn_in + self.steps):
            state = model.gibbs_step(state, noise, cond)
        return model.to_image(state, noise, cond, mean=self.mean)
