"""Glow (Kingma & Dhariwal, 2018): multi-scale flow of steps (actnorm -> invertible 1x1
convolution -> affine coupling), with learned priors and sampling temperature.

Level i of L (sec. 3, fig. 2): squeeze, K flow steps, then (but for the last level) split off
half the channels. As in the paper's code (``learntop``, ``split2d`` priors), the split-off
half z2 gets a prior N(mu(z1), sigma(z1)^2) from a zero-initialised conv of the kept half, and
the top latent a learned N(mu, sigma^2); we write both as affine bijections
eps = (z - mu) / sigma, so eps ~ N(0, I) and the ancestral sampler's eps ~ N(0, T^2 I) is
exactly Glow's temperature T. Coupling networks: conv3x3 -> actnorm -> ReLU -> conv1x1 ->
actnorm -> ReLU -> zero-initialised conv3x3; log-scale = logsigmoid(h + 2).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .base import FlowModel
from .dequantize import DIGITS_BINS, REALNVP_ALPHA
from .layers import ActNorm, ActNormNet, AffineCoupling, InvConv1x1, ZeroConv2d, squeeze2d, unsqueeze2d


def glow_net(hidden: int) -> Callable[[int, int], nn.Module]:
    def build(c_in: int, c_out: int) -> nn.Module:
        return nn.Sequential(nn.Conv2d(c_in, hidden, 3, padding=1, bias=False), ActNormNet(hidden), nn.ReLU(),
                             nn.Conv2d(hidden, hidden, 1, bias=False), ActNormNet(hidden), nn.ReLU(),
                             ZeroConv2d(hidden, c_out))
    return build


class FlowStep(nn.Module):
    """actnorm -> invertible 1x1 conv -> affine (or additive) coupling."""

    def __init__(self, channels: int, hidden: int, coupling: str, lu: bool) -> None:
        super().__init__()
        self.actnorm = ActNorm(channels)
        self.invconv = InvConv1x1(channels, lu=lu)
        self.coupling = AffineCoupling(channels, glow_net(hidden), "channel", 0,
                                       "sigmoid" if coupling == "affine" else "additive")

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, ld1 = self.actnorm(x)
        x, ld2 = self.invconv(x)
        x, ld3 = self.coupling(x)
        return x, ld1 + ld2 + ld3

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return self.actnorm.inverse(self.invconv.inverse(self.coupling.inverse(y)))


class Prior(nn.Module):
    """eps = (z - mu) * exp(-logs): mu, logs from a zero-initialised conv of the kept half
    (a split) or learned constants (the top). Identity when not ``learn``."""

    def __init__(self, shape: tuple[int, int, int], cond_channels: int | None, learn: bool) -> None:
        super().__init__()
        self.learn, self.conditional = learn, cond_channels is not None
        if learn and self.conditional:
            self.conv = ZeroConv2d(cond_channels, 2 * shape[0])
        elif learn:
            self.mean = nn.Parameter(torch.zeros(1, *shape))
            self.logs = nn.Parameter(torch.zeros(1, *shape))

    def _params(self, cond: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if self.conditional:
            return self.conv(cond).chunk(2, 1)
        return self.mean, self.logs

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.learn:
            return z, torch.zeros(len(z), device=z.device)
        mean, logs = self._params(cond)
        return (z - mean) * torch.exp(-logs), (-logs.expand_as(z)).flatten(1).sum(1)

    def inverse(self, eps: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if not self.learn:
            return eps
        mean, logs = self._params(cond)
        return eps * torch.exp(logs) + mean


class Level(nn.Module):
    """squeeze -> K flow steps -> split (with its prior) or, at the top, the top prior."""

    def __init__(self, channels: int, size: int, depth: int, hidden: int, coupling: str, lu: bool,
                 last: bool, learn_prior: bool) -> None:
        super().__init__()
        self.last = last
        self.steps = nn.ModuleList(FlowStep(channels, hidden, coupling, lu) for _ in range(depth))
        half = channels // 2
        self.prior = (Prior((channels, size, size), None, learn_prior) if last
                      else Prior((channels - half, size, size), half, learn_prior))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x -> (kept, eps of the latent factored out here, logdet)."""
        x = squeeze2d(x)
        logdet = torch.zeros(len(x), device=x.device)
        for step in self.steps:
            x, ld = step(x)
            logdet = logdet + ld
        if self.last:
            eps, ld = self.prior(x)
            return x, eps, logdet + ld
        half = x.shape[1] // 2
        kept, z = x[:, :half], x[:, half:]
        eps, ld = self.prior(z, kept)
        return kept, eps, logdet + ld

    def inverse(self, kept: torch.Tensor | None, eps: torch.Tensor) -> torch.Tensor:
        x = self.prior.inverse(eps) if self.last else torch.cat([kept, self.prior.inverse(eps, kept)], 1)
        for step in reversed(self.steps):
            x = step.inverse(x)
        return unsqueeze2d(x)


class Glow(FlowModel):
    """Glow over (channels, image_size, image_size) pixels in [0, 1]."""

    family = "glow"

    def __init__(self, image_size: int = 8, channels: int = 1, num_levels: int = 2, depth: int = 8,
                 hidden: int = 128, coupling: str = "affine", lu_decomposed: bool = True,
                 learn_prior: bool = True, alpha: float = REALNVP_ALPHA, num_bins: int = DIGITS_BINS) -> None:
        super().__init__()
        if num_levels < 1 or image_size % 2 ** num_levels:
            raise ValueError(f"image_size {image_size} must be divisible by 2^num_levels")
        if coupling not in ("affine", "additive"):
            raise ValueError(f"coupling must be 'affine' or 'additive', got {coupling!r}")
        self.image_shape = (channels, image_size, image_size)
        self.alpha, self.num_bins = alpha, num_bins
        self.levels = nn.ModuleList()
        self.z_shapes: list[tuple[int, int, int]] = []
        c, s = channels, image_size
        for i in range(num_levels):
            last = i == num_levels - 1
            c, s = 4 * c, s // 2
            self.levels.append(Level(c, s, depth, hidden, coupling, lu_decomposed, last, learn_prior))
            if last:
                self.z_shapes.append((c, s, s))
            else:
                self.z_shapes.append((c - c // 2, s, s))
                c = c // 2

    def flow_forward(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zs, logdet, x = [], torch.zeros(len(v), device=v.device), v
        for level in self.levels:
            x, eps, ld = level(x)
            logdet = logdet + ld
            zs.append(eps.flatten(1))
        return torch.cat(zs, 1), logdet

    def flow_inverse(self, eps: torch.Tensor) -> torch.Tensor:
        sizes = [c * h * w for c, h, w in self.z_shapes]
        parts = [p.reshape(len(eps), *shape) for p, shape in zip(eps.split(sizes, 1), self.z_shapes)]
        x = None
        for level, part in zip(reversed(self.levels), reversed(parts)):
            x = level.inverse(x, part)
        return x

    def actnorms(self) -> list[ActNorm]:
        return [m for m in self.modules() if isinstance(m, ActNorm)]
