"""Noise schedules: DDPM's beta_t (linear, cosine), timestep respacing, and NCSN's geometric
noise levels with the annealed-Langevin step sizes.

Pure functions of the config, so they are recomputed on load and never stored in weights.
"""
from __future__ import annotations

import math

import torch


def linear_betas(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """Ho et al. (2020): beta_t rising linearly from 1e-4 to 0.02 over T = 1000 steps."""
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)


def cosine_betas(T: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """Nichol & Dhariwal (2021): alpha_bar(t) = cos^2((t/T + s) / (1 + s) * pi/2), betas from
    its ratios, clipped at `max_beta` near t = T."""
    t = torch.arange(T + 1, dtype=torch.float64) / T
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bar = f / f[0]
    return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=max_beta)


def make_betas(schedule: str, T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    if schedule == "linear":
        return linear_betas(T, beta_start, beta_end)
    if schedule == "cosine":
        return cosine_betas(T)
    raise ValueError(f"unknown noise schedule {schedule!r}; choose 'linear' or 'cosine'")


def alphas_cumprod(betas: torch.Tensor) -> torch.Tensor:
    """alpha_bar_t = prod_{s <= t} (1 - beta_s)."""
    return torch.cumprod(1 - betas, dim=0)


def spaced_timesteps(T: int, steps: int) -> list[int]:
    """`steps` timesteps in [0, T), evenly spaced, always including 0 and T - 1, descending
    (the order a sampler visits them)."""
    if not 1 <= steps <= T:
        raise ValueError(f"steps must be between 1 and T={T}, got {steps}")
    if steps == 1:
        return [T - 1]
    ts = torch.linspace(0, T - 1, steps, dtype=torch.float64).round().long().unique()
    return sorted(ts.tolist(), reverse=True)


def geometric_sigmas(sigma_1: float, sigma_L: float, L: int) -> torch.Tensor:
    """NCSN noise levels: a geometric sequence sigma_1 > ... > sigma_L."""
    if not sigma_1 > sigma_L > 0 or L < 2:
        raise ValueError(f"need sigma_1 > sigma_L > 0 and L >= 2, got {sigma_1}, {sigma_L}, {L}")
    return torch.exp(torch.linspace(math.log(sigma_1), math.log(sigma_L), L, dtype=torch.float64))


def langevin_step_sizes(sigmas: torch.Tensor, eps: float) -> torch.Tensor:
    """Annealed Langevin dynamics (Song & Ermon 2019, Alg. 1): alpha_i = eps * sigma_i^2 / sigma_L^2."""
    return eps * sigmas ** 2 / sigmas[-1] ** 2
