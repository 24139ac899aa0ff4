"""Annealed importance sampling for log Z (Neal 2001; Salakhutdinov & Murray 2008).

Intermediate distributions p_k(x) ~ p_base(x)^(1 - beta_k) * sum_h exp(-beta_k E(x, h)) go
from a factorial base (beta = 0, normalised, sampled exactly) to the model (beta = 1); each
transition is one tempered block-Gibbs sweep. With x_0 ~ p_base the log-weight is

    w = [log p~_0(x_0) - log p_base(x_0)] + sum_k [log p~_k(x_{k-1}) - log p~_{k-1}(x_{k-1})]

(the first term is log Z_0 whatever x_0) and log Z ~ log mean exp(w). The standard error is the
delta-method one, std(exp w) / (sqrt(M) mean(exp w)), on the log scale. The estimate is
unbiased for Z, so log Z is biased low in expectation (a stochastic lower bound).
"""
from __future__ import annotations

import math
from typing import Any

import torch


def beta_schedule(num_betas: int) -> torch.Tensor:
    """Salakhutdinov & Murray's schedule, scaled: 10% of the steps on [0, 0.5], 40% on
    [0.5, 0.9], 50% on [0.9, 1] (at least 4 betas)."""
    k = max(int(num_betas), 4)
    a, b = max(k // 10, 1), max(4 * k // 10, 1)
    c = k - a - b
    return torch.cat([torch.linspace(0, 0.5, a + 1)[:-1], torch.linspace(0.5, 0.9, b + 1)[:-1],
                      torch.linspace(0.9, 1.0, c)]).double()


def log_mean_exp_se(w: torch.Tensor) -> tuple[float, float]:
    """log mean exp(w) and its delta-method standard error."""
    w = w.double()
    m = len(w)
    log_mean = torch.logsumexp(w, 0) - math.log(m)
    if m < 2:
        return float(log_mean), float("nan")
    r = torch.exp(w - log_mean)  # weights relative to their mean (mean 1)
    return float(log_mean), float(r.std() / math.sqrt(m))


@torch.no_grad()
def ais_weights(model: Any, num_chains: int, num_betas: int, generator: torch.Generator | None,
                cond: Any = None) -> torch.Tensor:
    """The M log importance weights of one AIS run."""
    from .base import TorchNoise

    noise = TorchNoise(generator)
    betas = beta_schedule(num_betas).tolist()
    x = model.init_state(num_chains, noise, cond)
    w = (model.log_unnorm(x, cond, 0.0) - model.base_log_prob(x, cond)).double()
    for prev, beta in zip(betas[:-1], betas[1:]):
        w += (model.log_unnorm(x, cond, beta) - model.log_unnorm(x, cond, prev)).double()
        x = model.gibbs_step(x, noise, cond, beta)
    return w


def ais_log_z(model: Any, num_chains: int = 100, num_betas: int = 10000,
              generator: torch.Generator | None = None, cond: Any = None) -> tuple[float, float]:
    """(log Z estimate, its standard error)."""
    return log_mean_exp_se(ais_weights(model, num_chains, num_betas, generator, cond))
