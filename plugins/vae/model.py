"""The VAE of Kingma & Welling (2014), appendix C: MLP encoder and decoder with tanh hidden layers.

Encoder q(z|x) = N(mu(x), diag(sigma^2(x))) with h = tanh(W x + b), mu = W_mu h + b_mu,
log sigma^2 = W_s h + b_s. Decoder p(x|z): h = tanh(W z + b), then either Bernoulli logits
(the paper's MNIST experiments; on grey values in [0, 1] this is the usual cross-entropy
"likelihood", a bound on a discrete model rather than a density over [0, 1]) or a Gaussian with
per-pixel mean (a sigmoid, in [0, 1]) and log-variance (appendix C.2).

Likelihood conventions (all in nats per example, x of shape (n, C, H, W) in [0, 1]):

* ``elbo(x, num_samples=L)`` returns ``(recon, kl)``: recon = (1/L) sum_l log p(x | z_l) with
  z_l = mu + sigma * eps_l (the reparameterisation trick, so gradients reach mu and log sigma^2),
  kl = KL(q(z|x) || N(0, I)) computed analytically. ELBO = recon - kl (the paper's estimator B).
* ``log_prob(x)`` is that ELBO, with eps drawn from a fixed generator (seed 0 by default), so
  the same x always gets the same number.
* ``log_prob_iw(x, k)`` is the importance-weighted bound log (1/k) sum_k p(x, z_k) / q(z_k|x)
  (Burda et al. 2016): equal to the ELBO in expectation at k = 1 and tighter as k grows.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo_core.errors import BadInputError
from zoo_core.model import GenerativeModel

from .samplers import AncestralSampler

LIKELIHOODS = ("bernoulli", "gaussian")
LOG_2PI = math.log(2 * math.pi)
MIN_LOGVAR = -9.0  # Gaussian decoder: floor on log sigma^2 (sigma >= 0.011), for stability


def _generator(generator: int | torch.Generator | None) -> torch.Generator | None:
    if isinstance(generator, int) and not isinstance(generator, bool):
        return torch.Generator().manual_seed(generator)
    return generator


class VAE(GenerativeModel):
    """A VAE with MLP encoder/decoder; explicit density bound via `log_prob`."""

    family = "vae"
    kind = "image"
    value_range = (0.0, 1.0)
    samplers = {"ancestral": AncestralSampler}
    card_notes = (
        "`log_prob(x)` is the ELBO in nats per example: the analytic KL(q(z|x) || N(0, I)) plus a "
        "Monte-Carlo reconstruction term over `num_samples` reparameterised draws (default 1) from a "
        "fixed generator (seed 0), so it is deterministic. `elbo(x)` returns the (recon, kl) terms and "
        "`log_prob_iw(x, k)` the tighter importance-weighted bound. With the Bernoulli decoder on grey "
        "values in [0, 1], log p(x|z) is the binary cross-entropy (as in the paper's MNIST runs): a "
        "bound for comparing models on the same data, not a density over [0, 1]. The `ancestral` "
        "sampler returns the decoder mean E[x|z] by default; `mean=False` draws x ~ p(x|z).")

    def __init__(self, image_size: int = 32, channels: int = 1, hidden: int = 400, latent: int = 20,
                 likelihood: str = "bernoulli") -> None:
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")
        self.image_size, self.channels, self.hidden = image_size, channels, hidden
        self.latent, self.likelihood = latent, likelihood
        d = channels * image_size * image_size
        self.data_dim = d
        self.enc_hidden = nn.Linear(d, hidden)
        self.enc_mu = nn.Linear(hidden, latent)
        self.enc_logvar = nn.Linear(hidden, latent)
        self.dec_hidden = nn.Linear(latent, hidden)
        self.dec_out = nn.Linear(hidden, d if likelihood == "bernoulli" else 2 * d)

    # -- the two networks -----------------------------------------------------------------
    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.image_size, self.image_size)

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.image_shape:
            raise BadInputError(f"expected images of shape (n, {', '.join(map(str, self.image_shape))}),"
                                f" got {tuple(x.shape)}")
        return x.reshape(len(x), -1).to(self.device, torch.float32)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z|x), each (n, latent)."""
        h = torch.tanh(self.enc_hidden(self._flat(x)))
        return self.enc_mu(h), self.enc_logvar(h)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """z = mu + sigma * eps: a sample of q(z|x) that is differentiable in mu and logvar."""
        return mu + torch.exp(0.5 * logvar) * eps

    def decode(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """Parameters of p(x|z), flattened to (..., D): {"logits"} or {"mean", "logvar"}."""
        out = self.dec_out(torch.tanh(self.dec_hidden(z)))
        if self.likelihood == "bernoulli":
            return {"logits": out}
        mean, logvar = out.chunk(2, dim=-1)
        return {"mean": torch.sigmoid(mean), "logvar": MIN_LOGVAR + F.softplus(logvar - MIN_LOGVAR)}

    def decoder_mean(self, z: torch.Tensor) -> torch.Tensor:
        """E[x|z] as images (n, C, H, W) in [0, 1]."""
        params = self.decode(z)
        mean = torch.sigmoid(params["logits"]) if "logits" in params else params["mean"]
        return mean.reshape(len(z), *self.image_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction: the decoder mean at the posterior mean."""
        mu, _ = self.encode(x)
        return self.decoder_mean(mu)

    # -- densities --------------------------------------------------------------------------
    def log_px_given_z(self, x_flat: torch.Tensor, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """log p(x|z) summed over pixels; broadcasts x (n, D) against params (..., n, D)."""
        if "logits" in params:
            logits = params["logits"]
            target = x_flat.expand_as(logits)
            return -F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(-1)
        mean, logvar = params["mean"], params["logvar"]
        return -0.5 * (LOG_2PI + logvar + (x_flat - mean) ** 2 * torch.exp(-logvar)).sum(-1)

    @staticmethod
    def kl_to_prior(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """KL(N(mu, diag exp(logvar)) || N(0, I)) per example, analytically (appendix B)."""
        return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(-1)

    def _eps(self, shape: tuple[int, ...], generator: int | torch.Generator | None) -> torch.Tensor:
        return torch.randn(shape, generator=_generator(generator)).to(self.device)

    def elbo(self, x: torch.Tensor, num_samples: int = 1,
             generator: int | torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(recon, kl), each (n,) in nats: MC estimate of E_q[log p(x|z)] over `num_samples`
        reparameterised draws, and the analytic KL(q(z|x) || p(z)). ELBO = recon - kl."""
        if num_samples < 1:
            raise BadInputError(f"num_samples must be >= 1, got {num_samples}")
        x_flat = self._flat(x)
        mu, logvar = self.encode(x)
        eps = self._eps((num_samples, *mu.shape), generator)
        z = self.reparameterize(mu, logvar, eps)  # (L, n, latent)
        recon = self.log_px_given_z(x_flat, self.decode(z)).mean(0)
        return recon, self.kl_to_prior(mu, logvar)

    def log_prob(self, x: torch.Tensor, num_samples: int = 1,
                 generator: int | torch.Generator | None = 0) -> torch.Tensor:
        """The ELBO per example (nats), a lower bound on log p(x): analytic KL plus a
        `num_samples`-draw MC reconstruction term with eps from `generator` (seed 0 by default,
        so it is deterministic; pass None to use torch's global RNG)."""
        recon, kl = self.elbo(x, num_samples=num_samples, generator=generator)
        return recon - kl

    def log_prob_iw(self, x: torch.Tensor, k: int = 100,
                    generator: int | torch.Generator | None = 0, chunk: int = 256) -> torch.Tensor:
        """The importance-weighted bound with k samples per example (nats, (n,)); >= ELBO in
        expectation and non-decreasing in k. `chunk` caps the samples evaluated at once."""
        if k < 1:
            raise BadInputError(f"k must be >= 1, got {k}")
        gen = _generator(generator)
        x_flat = self._flat(x)
        mu, logvar = self.encode(x)
        std = torch.exp(0.5 * logvar)
        parts = []
        for start in range(0, k, chunk):
            m = min(chunk, k - start)
            eps = self._eps((m, *mu.shape), gen)
            z = mu + std * eps
            log_pxz = self.log_px_given_z(x_flat, self.decode(z))
            log_pz = -0.5 * (LOG_2PI + z.pow(2)).sum(-1)
            log_qz = -0.5 * (LOG_2PI + logvar + eps.pow(2)).sum(-1)
            parts.append(log_pxz + log_pz - log_qz)  # (m, n)
        log_w = torch.cat(parts)
        return torch.logsumexp(log_w, 0) - math.log(k)

    def sample_x(self, z: torch.Tensor, rng: Any) -> torch.Tensor:
        """x ~ p(x|z) with noise from a SampleRNG, as images in [0, 1]."""
        params = self.decode(z)
        if "logits" in params:
            x = rng.bernoulli(torch.sigmoid(params["logits"]))
        else:
            noise = rng.randn(self.data_dim)
            x = (params["mean"] + torch.exp(0.5 * params["logvar"]) * noise).clamp(0, 1)
        return x.reshape(len(z), *self.image_shape)
