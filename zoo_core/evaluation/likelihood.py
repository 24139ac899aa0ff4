"""Log-likelihood in bits per dimension on a held-out split.

``model.log_prob(x)`` gives nats per example for x in the model's value range. The reported
density is over pixels scaled to [0, 1], so a model working in [lo, hi] gets the change of
variables D * log(hi - lo) added:  bits/dim = -(log p(x) + D log(hi - lo)) / (D ln 2).
Pixels here are continuous (digits are upsampled from 8x8 with 17 grey levels), so this is a
continuous density and may be negative; add 8 for the convention of 8-bit data scaled to [0, 256).
A model that defines ``bits_per_dim(x)`` (a discrete model of K grey levels, such as the flows'
dequantised likelihood) is scored by that method instead: it knows its own discretisation.
A VAE's log_prob is its ELBO, a lower bound on log p(x): its bits/dim is an upper bound and is
reported under ``nll_bound_bits_per_dim``.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch


def is_bound(model: Any) -> bool:
    """True when the model's log_prob is a lower bound (an ELBO), not the exact likelihood."""
    flag = getattr(model, "log_prob_is_bound", None)
    return bool(flag) if flag is not None else getattr(model, "family", "") == "vae"


@torch.no_grad()
def bits_per_dim(model: Any, data01: torch.Tensor, batch_size: int = 128,
                 progress: Callable[[int], Any] | None = None) -> dict[str, float]:
    """Mean bits/dim (and its standard error) of data in [0, 1] under the model."""
    lo, hi = (float(v) for v in model.value_range)
    dims = int(data01[0].numel())
    per_example = []
    for start in range(0, len(data01), batch_size):
        x01 = data01[start:start + batch_size]
        x = (lo + x01 * (hi - lo)).to(model.device)
        if callable(getattr(model, "bits_per_dim", None)):
            batch = model.bits_per_dim(x).double().cpu().reshape(-1)
        else:
            logp = model.log_prob(x).double().cpu().reshape(-1)
            batch = -(logp + dims * math.log(hi - lo)) / (dims * math.log(2))
        if batch.numel() != len(x01):
            raise ValueError(f"the model scored {batch.numel()} values for {len(x01)} examples")
        per_example.append(batch)
        if progress:
            progress(len(x01))
    bpd = torch.cat(per_example)
    key = "nll_bound_bits_per_dim" if is_bound(model) else "nll_bits_per_dim"
    se = float(bpd.std() / math.sqrt(len(bpd))) if len(bpd) > 1 else float("nan")
    return {key: float(bpd.mean()), f"{key}_se": se, "nll_examples": float(len(bpd))}
