"""The GSN's Markov chain sampler: corrupt, reconstruct, sample, repeated; all noise from the
per-sample SampleRNG, so with one chain per sample, sample i depends only on (seed, i)."""
from __future__ import annotations

from typing import Any

import torch

from zoo_core.chains import run_chains
from zoo_core.rng import SampleRNG
from zoo_core.sampler import Sampler


class ChainSampler(Sampler):
    """Run the GSN chain from uniform noise; return its last state or reconstruction mean."""

    name = "chain"
    description = "the GSN Markov chain (corrupt, reconstruct, sample) from uniform noise"
    options = {
        "steps": (int, None, "chain steps per sample (default: the model's sample_steps); "
                             "with --chains, steps between successive samples of a chain"),
        "burn_in": (int, 0, "extra chain steps before the first sample is kept"),
        "chains": (int, 0, "chains per batch of samples; 0: one chain per sample"),
        "mean": (bool, True, "return the reconstruction means E[x | x~] (False: the sampled x)"),
    }

    def __call__(self, model: Any, n: int, rng: SampleRNG, condition: list[Any] | None) -> torch.Tensor:
        steps = model.sample_steps if self.steps is None else self.steps

        def init(r: SampleRNG) -> tuple[torch.Tensor, torch.Tensor]:
            x = r.rand(*model.image_shape).to(model.device)
            return x, x

        def transition(state: tuple[torch.Tensor, torch.Tensor], r: SampleRNG) -> tuple[torch.Tensor, torch.Tensor]:
            return model.transition(state[0], r)

        return run_chains(rng, n, chains=self.chains, burn_in=self.burn_in, steps=steps, init=init,
                          transition=transition, emit=lambda s: s[1] if self.mean else s[0])
