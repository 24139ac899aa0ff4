"""Running Markov chain samplers: burn-in, thinning and the chain-to-sample layout.

Shared by the chain samplers (EBM Langevin, GSN): they differ only in a chain's state and
transition, which they pass in as functions.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from .errors import BadInputError
from .rng import SampleRNG


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
