"""A GSN in its denoising auto-encoder form (Bengio et al. 2014, section 3; Bengio et al. 2013).

One transition of the Markov chain on x (images in [0, 1], flattened to D pixels):

    x~ ~ C(x~ | x)                 corruption: salt-and-pepper (each pixel, with probability
                                   ``corruption_level``, replaced by 0 or 1 at random) or Gaussian
    h  = f(x~, Z)                  an MLP of tanh layers ``hidden``; Gaussian noise Z of std
                                   ``hidden_noise`` is added before and after the non-linearity
                                   of every hidden layer but the one that reconstructs x (the
                                   paper's noiseless h1: the layer next to x carries no noise)
    x' ~ p(x | h)                  factorised Bernoulli with means sigmoid(W h + b)

Training maximises log p(x | x~) with walkback (Bengio et al. 2013, section 3.4): from each
data point the chain is run ``walkback`` steps (sampling x' each time, without gradient through
the sample) and every step's reconstruction is scored against the original x. Sampling runs the
chain from uniform noise. All noise comes from an object with ``rand(*shape)`` and
``randn(*shape)`` returning (n, *shape) draws: the per-sample SampleRNG when sampling, a
`TorchNoise` over one torch.Generator when training.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from zoo_core.errors import BadInputError
from zoo_core.model import GenerativeModel

from .samplers import ChainSampler

CORRUPTIONS = ("salt_and_pepper", "gaussian")


class TorchNoise:
    """`SampleRNG`-like draws for a batch of n from one torch.Generator (used in training)."""

    def __init__(self, n: int, generator: torch.Generator | None = None, device: Any = "cpu") -> None:
        self.n, self.generator, self.device = n, generator, torch.device(device)

    def rand(self, *shape: int) -> torch.Tensor:
        return torch.rand((self.n, *shape), generator=self.generator).to(self.device)

    def randn(self, *shape: int) -> torch.Tensor:
        return torch.randn((self.n, *shape), generator=self.generator).to(self.device)


class GSN(GenerativeModel):
    """Denoising auto-encoder p(x | x~) whose corrupt-reconstruct-sample chain generates."""

    family = "gsn"
    kind = "image"
    value_range = (0.0, 1.0)
    samplers = {"chain": ChainSampler}

    def __init__(self, image_size: int = 16, channels: int = 1, hidden: Sequence[int] = (400, 400),
                 corruption: str = "salt_and_pepper", corruption_level: float = 0.4,
                 hidden_noise: float = 2.0, walkback: int = 4, sample_steps: int = 100) -> None:
        super().__init__()
        if corruption not in CORRUPTIONS:
            raise ValueError(f"corruption must be one of {CORRUPTIONS}, got {corruption!r}")
        hidden = [int(h) for h in hidden]
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden must list at least one positive layer width, got {hidden}")
        if walkback < 1:
            raise ValueError(f"walkback must be >= 1, got {walkback}")
        self.image_size, self.channels, self.hidden = image_size, channels, hidden
        self.corruption, self.corruption_level = corruption, corruption_level
        self.hidden_noise, self.walkback, self.sample_steps = hidden_noise, walkback, sample_steps
        self.data_dim = channels * image_size * image_size
        dims = [self.data_dim, *hidden]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:]))
        self.out = nn.Linear(hidden[-1], self.data_dim)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.image_size, self.image_size)

    def _check(self, x: torch.Tensor) -> None:
        if tuple(x.shape[1:]) != self.image_shape:
            raise BadInputError(f"expected images of shape (n, {', '.join(map(str, self.image_shape))}),"
                                f" got {tuple(x.shape)}")

    # -- the chain's pieces ---------------------------------------------------------------
    def corrupt(self, x: torch.Tensor, noise: Any) -> torch.Tensor:
        """x~ ~ C(x~ | x)."""
        if self.corruption == "gaussian":
            return x + self.corruption_level * noise.randn(*x.shape[1:])
        flip = noise.rand(*x.shape[1:]) < self.corruption_level
        salt = (noise.rand(*x.shape[1:]) < 0.5).to(x.dtype)
        return torch.where(flip, salt, x)

    def logits(self, x_tilde: torch.Tensor, noise: Any = None) -> torch.Tensor:
        """Bernoulli logits of p(x | x~), (n, C, H, W); hidden noise from `noise` (None: none)."""
        h = x_tilde.reshape(len(x_tilde), -1)
        for i, layer in enumerate(self.layers):
            a = layer(h)
            noisy = noise is not None and i < len(self.layers) - 1 and self.hidden_noise > 0
            if noisy:
                a = a + self.hidden_noise * noise.randn(a.shape[1])
            h = torch.tanh(a)
            if noisy:
                h = h + self.hidden_noise * noise.randn(h.shape[1])
        return self.out(h).reshape(len(x_tilde), *self.image_shape)

    def forward(self, x_tilde: torch.Tensor) -> torch.Tensor:
        """Reconstruction means E[x | x~] in [0, 1], with the hidden noise switched off."""
        self._check(x_tilde)
        return torch.sigmoid(self.logits(x_tilde))

    def transition(self, x: torch.Tensor, noise: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """One step of the chain: (x' ~ p(x | x~), the mean of p(x | x~)) with x~ ~ C(x~ | x)."""
        mean = torch.sigmoid(self.logits(self.corrupt(x, noise), noise))
        return (noise.rand(*mean.shape[1:]) < mean).to(mean.dtype), mean

    def walkback_loss(self, x: torch.Tensor, noise: Any, steps: int | None = None) -> torch.Tensor:
        """Reconstruction costs -log p(x | x~_t) (nats, (steps, n)) along a walkback chain
        started at the data x: x~_t corrupts the chain's state x_t, x_{t+1} ~ p(x | x~_t)."""
        self._check(x)
        state = x
        costs = []
        for _ in range(self.walkback if steps is None else steps):
            logits = self.logits(self.corrupt(state, noise), noise)
            costs.append(F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1))
            with torch.no_grad():
                state = (noise.rand(*logits.shape[1:]) < torch.sigmoid(logits)).to(x.dtype)
        return torch.stack(costs)
