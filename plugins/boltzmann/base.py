"""What every Boltzmann machine here shares: noise sources, the base distributions AIS starts
from, the stored AIS estimate of log Z, and `log_prob` built on the free energy.

A family implements, on states (a tensor, or a tuple of tensors for deep models):

* ``init_state(n, noise, cond)``: a draw from the AIS base distribution (also the chains' start);
* ``gibbs_step(state, noise, cond, beta)``: one block-Gibbs sweep that leaves the tempered
  distribution p_beta invariant, where p_beta(x) ~ p_base(x)^(1 - beta) * sum_h exp(-beta E);
* ``log_unnorm(state, cond, beta)``: log p~_beta of the state (hidden units summed out);
* ``base_log_prob(state, cond)``: the normalised log-density of the base distribution;
* ``to_image(state, noise, cond, mean)``: the visible sample (or its conditional mean) as images.

so beta = 1 is the model and beta = 0 is a factorial base distribution with a known partition
function. One Gibbs sampler (samplers.py) and one AIS routine (ais.py) then serve them all.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from zoo_core.errors import BadInputError, ZooError
from zoo_core.model import GenerativeModel

from .samplers import GibbsSampler

LOG_2PI = math.log(2 * math.pi)


class TorchNoise:
    """Noise from one torch.Generator (training, AIS, tests)."""

    def __init__(self, generator: torch.Generator | None = None) -> None:
        self.generator = generator

    def rand_like(self, t: torch.Tensor) -> torch.Tensor:
        return torch.rand(t.shape, generator=self.generator).to(t)

    def randn_like(self, t: torch.Tensor) -> torch.Tensor:
        return torch.randn(t.shape, generator=self.generator).to(t)

    def bernoulli(self, probs: torch.Tensor) -> torch.Tensor:
        return (self.rand_like(probs) < probs).to(probs.dtype)


class RNGNoise(TorchNoise):
    """Noise from a SampleRNG: every draw is per sample, so sample i depends only on (seed, i)."""

    def __init__(self, rng: Any) -> None:
        self.rng = rng

    def rand_like(self, t: torch.Tensor) -> torch.Tensor:
        return self.rng.rand(*t.shape[1:]).to(t)

    def randn_like(self, t: torch.Tensor) -> torch.Tensor:
        return self.rng.randn(*t.shape[1:]).to(t)

    def bernoulli(self, probs: torch.Tensor) -> torch.Tensor:
        return self.rng.bernoulli(probs)


def as_generator(generator: int | torch.Generator | None) -> torch.Generator | None:
    if isinstance(generator, int) and not isinstance(generator, bool):
        return torch.Generator().manual_seed(generator)
    return generator


def bernoulli_log_prob(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """sum_i log Bernoulli(x_i; sigmoid(logits_i)) over all but the first dimension."""
    ll = x * logits - F.softplus(logits)
    return ll.reshape(len(x), -1).sum(1)


def binary_entropy(p: torch.Tensor) -> torch.Tensor:
    p = p.clamp(1e-7, 1 - 1e-7)
    return -(p * p.log() + (1 - p) * (1 - p).log()).reshape(len(p), -1).sum(1)


def binarize(x01: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """The binary images Bernoulli models see: pixels above `threshold` are on."""
    return (x01 > threshold).float()


class BoltzmannModel(GenerativeModel):
    """Base of the Boltzmann families: Gibbs sampling, AIS, likelihood from the stored log Z.

    Buffers ``log_z`` and ``log_z_se`` hold the AIS estimate of log Z (and its standard
    error) computed at publish time; ``log_z_chains`` and ``log_z_betas`` record how.
    """

    kind = "image"
    value_range = (0.0, 1.0)
    samplers = {"gibbs": GibbsSampler}
    log_prob_is_bound = False
    visible_type = "binary"  # or "gaussian"
    likelihood_space = ("probability mass of the images binarised at 0.5 (a discrete model on {0,1}^D); "
                        "nats per image")

    def _init_log_z(self, count: int = 1) -> None:
        self.register_buffer("log_z", torch.full((count,), float("nan")))
        self.register_buffer("log_z_se", torch.full((count,), float("nan")))
        self.register_buffer("log_z_chains", torch.zeros((), dtype=torch.long))
        self.register_buffer("log_z_betas", torch.zeros((), dtype=torch.long))

    # -- shapes and data ------------------------------------------------------------------
    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (1, self.image_size, self.image_size)

    @property
    def num_visible(self) -> int:
        return self.image_size * self.image_size

    def check_images(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.image_shape:
            raise BadInputError(f"expected images of shape (n, {', '.join(map(str, self.image_shape))}), "
                                f"got {tuple(x.shape)}")
        return x.to(self.device, torch.float32)

    def encode_condition(self, condition: list[Any] | None, n: int) -> Any:
        return None

    # -- the interface each family implements -------------------------------------------
    def init_state(self, n: int, noise: TorchNoise, cond: Any = None) -> Any:
        raise NotImplementedError

    def gibbs_step(self, state: Any, noise: TorchNoise, cond: Any = None, beta: float = 1.0) -> Any:
        raise NotImplementedError

    def log_unnorm(self, state: Any, cond: Any = None, beta: float = 1.0) -> torch.Tensor:
        raise NotImplementedError

    def base_log_prob(self, state: Any, cond: Any = None) -> torch.Tensor:
        raise NotImplementedError

    def to_image(self, state: Any, noise: TorchNoise, cond: Any = None, mean: bool = True) -> torch.Tensor:
        raise NotImplementedError

    def ais_conditions(self) -> list[Any]:
        """One AIS run per condition (a conditional model has one log Z per label)."""
        return [None]

    # -- likelihood ---------------------------------------------------------------------------
    @torch.no_grad()
    def ais_log_z(self, num_chains: int = 100, num_betas: int = 10000,
                  generator: int | torch.Generator | None = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """AIS estimates of log Z (one per condition) and their standard errors."""
        from .ais import ais_log_z

        gen = as_generator(generator)
        results = [ais_log_z(self, num_chains, num_betas, gen, cond=self.encode_ais_condition(c, num_chains))
                   for c in self.ais_conditions()]
        return (torch.tensor([r[0] for r in results], dtype=torch.float64),
                torch.tensor([r[1] for r in results], dtype=torch.float64))

    def encode_ais_condition(self, condition: Any, n: int) -> Any:
        return None if condition is None else self.encode_condition([condition] * n, n)

    @torch.no_grad()
    def estimate_log_z(self, num_chains: int = 100, num_betas: int = 10000,
                       generator: int | torch.Generator | None = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Run AIS and store the estimate in the ``log_z`` / ``log_z_se`` buffers."""
        log_z, se = self.ais_log_z(num_chains, num_betas, generator)
        self.log_z.copy_(log_z.to(self.log_z))
        self.log_z_se.copy_(se.to(self.log_z_se))
        self.log_z_chains.fill_(num_chains)
        self.log_z_betas.fill_(num_betas)
        return log_z, se

    def stored_log_z(self) -> torch.Tensor:
        if torch.isnan(self.log_z).any():
            raise ZooError(f"this {self.family} has no AIS estimate of log Z yet; "
                           "run model.estimate_log_z() first")
        return self.log_z.to(torch.float64)

    def unnormalised_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p~(x) = -F(x) in the model's own space (nats, (n,))."""
        raise NotImplementedError

    @torch.no_grad()
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) = -F(x) - log Z (nats per image), with log Z the stored AIS estimate."""
        return self.unnormalised_log_prob(x).double() - self.stored_log_z()[0]


class GaussianVisibleMixin:
    """Real-valued visibles: the model works on standardised pixels z = (x - mean) / scale with
    a per-pixel mean and one global scale stored as buffers; densities are reported over
    pixels in [0, 1] (the change of variables adds -D log scale).

    The AIS base is a factorial Gaussian N(base_mean, exp(base_log_std)^2) fitted to the
    standardised data; the mixin supplies the interface methods that depend only on it and on
    the standardisation (``init_state``, ``base_log_prob``, ``prepare``,
    ``unnormalised_log_prob``), and ``with_base_term`` for a family's ``log_unnorm``.
    """

    visible_type = "gaussian"
    likelihood_space = "continuous density over pixels in [0, 1] (nats per image)"

    def _init_standardisation(self, d: int) -> None:
        self.register_buffer("data_mean", torch.zeros(d))
        self.register_buffer("data_scale", torch.ones(()))
        self.register_buffer("base_mean", torch.zeros(d))
        self.register_buffer("base_log_std", torch.zeros(d))

    def standardise(self, x01: torch.Tensor) -> torch.Tensor:
        return (x01.reshape(len(x01), -1) - self.data_mean) / self.data_scale

    def unstandardise(self, z: torch.Tensor) -> torch.Tensor:
        x = z * self.data_scale + self.data_mean
        return x.reshape(len(z), *self.image_shape).clamp(0, 1)

    def set_data_statistics(self, x01: torch.Tensor) -> None:
        flat = x01.reshape(len(x01), -1).float()
        self.data_mean.copy_(flat.mean(0))
        self.data_scale.copy_((flat - flat.mean(0)).std())
        z = self.standardise(x01)
        self.base_mean.copy_(z.mean(0))
        self.base_log_std.copy_(z.std(0).clamp_min(0.05).log())

    def gaussian_base_log_prob(self, v: torch.Tensor) -> torch.Tensor:
        var = torch.exp(2 * self.base_log_std)
        return (-0.5 * (LOG_2PI + 2 * self.base_log_std + (v - self.base_mean) ** 2 / var)).sum(1)

    def gaussian_base_sample(self, n: int, noise: TorchNoise) -> torch.Tensor:
        eps = noise.randn_like(torch.zeros(n, len(self.base_mean), device=self.base_mean.device))
        return self.base_mean + torch.exp(self.base_log_std) * eps

    def with_base_term(self, log_unnorm: torch.Tensor, v: torch.Tensor, beta: float) -> torch.Tensor:
        """log p~_beta(v) from the model's tempered term `log_unnorm` (its log p~ at beta): add
        (1 - beta) times the base's unnormalised log-density -(v - mu_A)^2 / (2 sigma_A^2)."""
        if beta == 1.0:  # the model itself: the base term is zero, skip computing it
            return log_unnorm
        base = (((v - self.base_mean) ** 2) / (2 * torch.exp(2 * self.base_log_std))).sum(-1)
        return log_unnorm - (1 - beta) * base

    def base_log_prob(self, v: torch.Tensor, cond: Any = None) -> torch.Tensor:
        return self.gaussian_base_log_prob(v)

    def init_state(self, n: int, noise: TorchNoise, cond: Any = None) -> torch.Tensor:
        return self.gaussian_base_sample(n, noise)

    def prepare(self, x01: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> standardised visible vectors."""
        return self.standardise(self.check_images(x01))

    @torch.no_grad()
    def unnormalised_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """-F(v) - D log(scale): unnormalised log-density over pixels in [0, 1]."""
        v = self.prepare(x)
        return self.log_unnorm(v) - v.shape[1] * torch.log(self.data_scale)

    def tempered_gaussian(self, mean: torch.Tensor, var: torch.Tensor, beta: float,
                          noise: TorchNoise) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample of N(mean, var)^beta * base^(1 - beta) (a Gaussian), and its mean."""
        base_var = torch.exp(2 * self.base_log_std)
        precision = beta / var + (1 - beta) / base_var
        mu = (beta * mean / var + (1 - beta) * self.base_mean / base_var) / precision
        return mu + noise.randn_like(mu) / precision.sqrt(), mu
