"""The GSN's Markov chain sampler: corrupt, reconstruct, sample, repeated; all noise from the
per-sample SampleRNG, so with one chain per sample, sample i depends only on (seed, i)."""
from __future__ import annotations

from typing import Any, Callable

import torch

from zoo_core.errors import BadInputError
from zoo_core.rng import SampleRNG
from zoo_core.sampler import Sampler


def run_chains(rng: SampleRNG, n: int, *, chains: int, burn_in: int, steps: int,
               init: Callable[[SampleRNG], Any], transition: Callable[[Any, SampleRNG], Any],
               emit: Callable[[Any], torch.Tensor]) -> torch.Tensor:
    """Run Markov chains and collect n samples.

    With ``chains`` 0 (or >= n) every sample is its own chain, driven by its own random stream:
    the state after ``burn_in + steps`` transitions. With 0 < chains < n, the first ``chains``
    streams drive that many chains; each runs ``burn_in`` transitions, then gives a sample every
    ``steps`` transitions, and sample i is the (i // chains + 1)-th sample of chain i % chains.
    """
    if chains < 0 or burn_in < 0 or steps < 0:
        raise BadInputError(f"chains, burn_in and steps must be >= 0, got {chains}, {burn_in}, {steps}")
    c = n if chains == 0 or chains >= n else chains
    if c < n and steps == 0:
        raise BadInputError("with fewer chains than samples, steps (between samples) must be >= 1")
    sub = rng if c == n else SampleRNG(rng.generators[:c], rng.device)
    state = init(sub)
    for _ in range(burn_in):
        state = transition(state, sub)
    outs = []
    for _ in range(-(-n // c)):
        for _ in range(steps):
            state = transition(state, sub)
        outs.append(emit(state))
    data = torch.stack(outs)  # (per chain, c, ...)
    return data.reshape(-1, *data.shape[2:])[:n]


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
