"""Samplers for the diffusion family: ancestral DDPM, DDIM, annealed Langevin dynamics.

All noise (the starting point and every step's noise) comes from the per-sample SampleRNG, so
sample i depends only on (seed, i). Each sampler splits into drawing the start and `run(model,
x, rng)`, so the same starting noise can be pushed through different samplers.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

from zoo_core.errors import BadInputError
from zoo_core.sampler import Sampler

from .schedules import langevin_step_sizes, spaced_timesteps

if TYPE_CHECKING:
    from zoo_core.rng import SampleRNG


def _check_steps(steps: int, T: int) -> int:
    if not 1 <= steps <= T:
        raise BadInputError(f"steps must be between 1 and T={T}, got {steps}")
    return steps


class DDPMSampler(Sampler):
    """Ancestral sampling of p(x_{t-1} | x_t) (Ho et al. 2020, Algorithm 2), with the posterior
    variance beta~_t. Fewer `steps` respace the schedule (Nichol & Dhariwal 2021): the chain
    visits evenly spaced timesteps, with betas recomputed from alpha_bar at those steps."""

    name = "ddpm"
    description = "ancestral DDPM sampling, T steps (fewer respaces the schedule)"
    options = {
        "steps": (int, None, "number of denoising steps (default: T, the training schedule)"),
        "clip": (bool, True, "clip the predicted x_0 to [-1, 1] at every step"),
    }

    def __call__(self, model: Any, n: int, rng: "SampleRNG", condition: list[Any] | None) -> torch.Tensor:
        x = rng.randn(*model.image_shape).to(model.device)  # x_T ~ N(0, I)
        return self.run(model, x, rng)

    def timesteps(self, model: Any) -> list[int]:
        steps = model.T if self.steps is None else _check_steps(self.steps, model.T)
        return spaced_timesteps(model.T, steps)

    def predict(self, model: Any, x: torch.Tensor, t: int, a_t: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(x0_hat, eps_hat) at timestep t; with `clip`, x0 is clipped and eps made consistent."""
        eps = model(x, t)
        x0 = (x - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
        if self.clip:
            x0 = x0.clamp(-1, 1)
            eps = (x - math.sqrt(a_t) * x0) / math.sqrt(1 - a_t)
        return x0, eps

    def run(self, model: Any, x: torch.Tensor, rng: "SampleRNG") -> torch.Tensor:
        ts = self.timesteps(model)
        ab = model.alpha_bar64.tolist()
        for i, t in enumerate(ts):
            a_t = ab[t]
            a_prev = ab[ts[i + 1]] if i + 1 < len(ts) else 1.0
            beta = 1 - a_t / a_prev
            x0, _ = self.predict(model, x, t, a_t)
            # posterior q(x_{t-1} | x_t, x_0): mean c0 x_0 + ct x_t, variance beta~_t
            mean = (math.sqrt(a_prev) * beta / (1 - a_t)) * x0 \
                + (math.sqrt(1 - beta) * (1 - a_prev) / (1 - a_t)) * x
            if i + 1 < len(ts):
                var = beta * (1 - a_prev) / (1 - a_t)
                x = mean + math.sqrt(var) * rng.randn(*x.shape[1:]).to(x.device)
            else:
                x = mean
        return x


class DDIMSampler(DDPMSampler):
    """DDIM (Song, Meng & Ermon 2021, eq. 12) on a subsequence of `steps` timesteps:
    x_prev = sqrt(a_prev) x0_hat + sqrt(1 - a_prev - sigma^2) eps_hat + sigma z, with
    sigma = eta * sqrt((1 - a_prev) / (1 - a_t)) * sqrt(1 - a_t / a_prev). eta = 0 is
    deterministic given x_T; eta = 1 over all T steps is the ancestral DDPM sampler."""

    name = "ddim"
    description = "DDIM: few deterministic (eta 0) or stochastic (eta > 0) steps"
    options = {
        "steps": (int, 50, "number of steps, a subsequence of the T training steps (at most T)"),
        "eta": (float, 0.0, "0: deterministic; 1: DDPM-like noise"),
        "clip": (bool, True, "clip the predicted x_0 to [-1, 1] at every step"),
    }

    def timesteps(self, model: Any) -> list[int]:
        if self.eta < 0:
            raise BadInputError(f"eta must be >= 0, got {self.eta}")
        return spaced_timesteps(model.T, _check_steps(min(self.steps, model.T), model.T))

    def run(self, model: Any, x: torch.Tensor, rng: "SampleRNG") -> torch.Tensor:
        ts = self.timesteps(model)
        ab = model.alpha_bar64.tolist()
        for i, t in enumerate(ts):
            a_t = ab[t]
            a_prev = ab[ts[i + 1]] if i + 1 < len(ts) else 1.0
            x0, eps = self.predict(model, x, t, a_t)
            sigma = self.eta * math.sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev))
            x = math.sqrt(a_prev) * x0 + math.sqrt(max(1 - a_prev - sigma ** 2, 0.0)) * eps
            if sigma > 0 and i + 1 < len(ts):
                x = x + sigma * rng.randn(*x.shape[1:]).to(x.device)
        return x


class AnnealedLangevinSampler(Sampler):
    """Annealed Langevin dynamics (Song & Ermon 2019, Algorithm 1): for each noise level
    sigma_i, largest first, `steps_per_level` steps x <- x + alpha_i/2 s(x, sigma_i) + sqrt(alpha_i) z
    with alpha_i = eps * sigma_i^2 / sigma_L^2; x_0 ~ U[0, 1]. `denoise` adds a final step
    x <- x + sigma_L^2 s(x, sigma_L) (Tweedie's formula: the posterior mean of the clean image)."""

    name = "langevin"
    description = "annealed Langevin dynamics over the noise levels"
    options = {
        "steps_per_level": (int, None, "Langevin steps T per noise level (default: the model's)"),
        "eps": (float, None, "step size at the smallest noise level (default: the model's)"),
        "denoise": (bool, False, "finish with one denoising step at sigma_L"),
    }

    def settings(self, model: Any) -> tuple[int, torch.Tensor]:
        """(steps per level, alpha_i per level as float64)."""
        steps = model.steps_per_level if self.steps_per_level is None else self.steps_per_level
        eps = model.step_eps if self.eps is None else self.eps
        if steps < 1:
            raise BadInputError(f"steps_per_level must be at least 1, got {steps}")
        if eps < 0:
            raise BadInputError(f"eps must be >= 0, got {eps}")
        return steps, langevin_step_sizes(model.sigmas64, eps)

    def __call__(self, model: Any, n: int, rng: "SampleRNG", condition: list[Any] | None) -> torch.Tensor:
        x = rng.rand(*model.image_shape).to(model.device)
        return self.run(model, x, rng)

    def run(self, model: Any, x: torch.Tensor, rng: "SampleRNG") -> torch.Tensor:
        steps, alphas = self.settings(model)
        for level, alpha in enumerate(alphas.tolist()):
            for _ in range(steps):
                z = rng.randn(*x.shape[1:]).to(x.device)
                x = x + (alpha / 2) * model(x, level) + math.sqrt(alpha) * z
        if self.denoise:
            x = x + float(model.sigmas64[-1]) ** 2 * model(x, len(alphas) - 1)
        return x
