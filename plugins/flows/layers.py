"""Invertible layers shared by the flows.

Every layer maps data-side x to latent-side y: ``forward(x) -> (y, logdet)`` with logdet
= log|det dy/dx| per example (shape (n,)), and ``inverse(y) -> x``.

* `squeeze2d` / `unsqueeze2d`: 2x2 space-to-depth (RealNVP sec. 3.6, Glow sec. 3), volume-preserving.
* `AffineCoupling`: y_b = x_b * exp(s(x_a)) + t(x_a) with a checkerboard or channel mask
  (RealNVP sec. 3.3-3.4); the log-scale is ``scale * tanh(.)`` (RealNVP), ``logsigmoid(. + 2)``
  (Glow's code) or 0 ("additive", NICE / Glow's additive coupling).
* `ActNorm`: per-channel affine with data-dependent initialisation (Glow sec. 3.1); the
  ``initialized`` buffer is saved with the weights, so a loaded model never re-initialises.
* `InvConv1x1`: invertible 1x1 convolution, optionally LU-decomposed (Glow sec. 3.2).
* `MADE` (Germain et al. 2015) and `MAFLayer` (Papamakarios et al. 2017): u = (x - mu(x)) exp(-a(x))
  with mu, a autoregressive; `BatchNormFlow` (MAF sec. 3.4 / RealNVP sec. 3.7).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn


def squeeze2d(x: torch.Tensor) -> torch.Tensor:
    """(n, c, h, w) -> (n, 4c, h/2, w/2): each 2x2 spatial block becomes 4 channels."""
    n, c, h, w = x.shape
    x = x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(n, c * 4, h // 2, w // 2)


def unsqueeze2d(x: torch.Tensor) -> torch.Tensor:
    """The inverse of `squeeze2d`."""
    n, c, h, w = x.shape
    x = x.reshape(n, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(n, c // 4, h * 2, w * 2)


def checkerboard(h: int, w: int, parity: int, like: torch.Tensor) -> torch.Tensor:
    """(1, 1, h, w) mask, 1 where (i + j) % 2 == parity (the conditioning pixels)."""
    i = torch.arange(h, device=like.device).view(h, 1)
    j = torch.arange(w, device=like.device).view(1, w)
    return ((i + j) % 2 == parity).to(like.dtype).view(1, 1, h, w)


class AffineCoupling(nn.Module):
    """Affine coupling: half the units pass through and parameterise (s, t) for the rest."""

    def __init__(self, channels: int, net_fn: Callable[[int, int], nn.Module], mask: str = "channel",
                 parity: int = 0, scale: str = "tanh") -> None:
        super().__init__()
        if mask not in ("checkerboard", "channel") or scale not in ("tanh", "sigmoid", "additive"):
            raise ValueError(f"unknown coupling mask {mask!r} or scale {scale!r}")
        self.mask, self.parity, self.scale_kind, self.channels = mask, parity, scale, channels
        per_unit = 1 if scale == "additive" else 2  # (t) or (log-scale, t) per transformed unit
        if mask == "checkerboard":
            self.net = net_fn(channels + 1, per_unit * channels)  # masked x plus the mask itself
            n_out = channels
        else:
            if channels < 2:
                raise ValueError("a channel-wise coupling needs at least 2 channels")
            self.n_a = channels // 2 if parity == 0 else channels - channels // 2
            n_out = channels - self.n_a
            self.net = net_fn(self.n_a, per_unit * n_out)
        if scale == "tanh":
            self.scale = nn.Parameter(torch.ones(1, n_out, 1, 1))

    def _log_scale(self, raw: torch.Tensor) -> torch.Tensor:
        if self.scale_kind == "tanh":
            return self.scale * torch.tanh(raw)
        return F.logsigmoid(raw + 2.0)

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.parity == 0:
            return x[:, :self.n_a], x[:, self.n_a:]
        return x[:, x.shape[1] - self.n_a:], x[:, :x.shape[1] - self.n_a]

    def _join(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.cat([a, b], 1) if self.parity == 0 else torch.cat([b, a], 1)

    def _params(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.scale_kind == "additive":
            t = self.net(cond)
            return torch.zeros_like(t), t
        raw, t = self.net(cond).chunk(2, 1)
        return self._log_scale(raw), t

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mask == "checkerboard":
            m = checkerboard(x.shape[2], x.shape[3], self.parity, x)
            log_s, t = self._params(torch.cat([x * m, m.expand(len(x), 1, -1, -1)], 1))
            log_s, t = log_s * (1 - m), t * (1 - m)
            return x * torch.exp(log_s) + t, log_s.flatten(1).sum(1)
        a, b = self._split(x)
        log_s, t = self._params(a)
        return self._join(a, b * torch.exp(log_s) + t), log_s.flatten(1).sum(1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        if self.mask == "checkerboard":
            m = checkerboard(y.shape[2], y.shape[3], self.parity, y)
            log_s, t = self._params(torch.cat([y * m, m.expand(len(y), 1, -1, -1)], 1))
            return m * y + (1 - m) * (y - t) * torch.exp(-log_s)
        a, b = self._split(y)
        log_s, t = self._params(a)
        return self._join(a, (b - t) * torch.exp(-log_s))


class ActNorm(nn.Module):
    """y = (x + bias) * exp(logs) per channel; bias and logs set from the first training batch
    so that y has zero mean and unit variance per channel (Glow sec. 3.1)."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.logs = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.tensor(0, dtype=torch.uint8))

    @torch.no_grad()
    def initialize(self, x: torch.Tensor) -> None:
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        std = (x - mean).pow(2).mean(dim=(0, 2, 3), keepdim=True).sqrt()
        self.bias.copy_(-mean)
        self.logs.copy_(-torch.log(std + self.eps))
        self.initialized.fill_(1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training and not bool(self.initialized):
            self.initialize(x)
        logdet = self.logs.sum() * x.shape[2] * x.shape[3]
        return (x + self.bias) * torch.exp(self.logs), logdet.expand(len(x))

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * torch.exp(-self.logs) - self.bias


class ActNormNet(ActNorm):
    """ActNorm inside a coupling network (no log-determinant needed there)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x)[0]


class InvConv1x1(nn.Module):
    """y = W x at every pixel, W initialised to a random rotation; log|det| = h w log|det W|.

    With ``lu`` W = P L (U + diag(sign(s) exp(log_s))) and log|det W| = sum(log_s) (Glow eq. 10).
    """

    def __init__(self, channels: int, lu: bool = True) -> None:
        super().__init__()
        self.lu = lu
        w = torch.linalg.qr(torch.randn(channels, channels))[0]
        if not lu:
            self.weight = nn.Parameter(w)
            return
        p, lower, upper = torch.linalg.lu(w)
        s = torch.diagonal(upper)
        self.register_buffer("perm", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.register_buffer("l_mask", torch.tril(torch.ones(channels, channels), -1), persistent=False)
        self.register_buffer("eye", torch.eye(channels), persistent=False)
        self.lower = nn.Parameter(lower)
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(torch.log(s.abs()))

    def matrix(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(W, log|det W|)."""
        if not self.lu:
            return self.weight, torch.linalg.slogdet(self.weight)[1]
        lower = self.lower * self.l_mask + self.eye
        upper = self.upper * self.l_mask.T + torch.diag(self.sign_s * torch.exp(self.log_s))
        return self.perm @ lower @ upper, self.log_s.sum()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w, logdet = self.matrix()
        y = F.conv2d(x, w.view(*w.shape, 1, 1))
        return y, (logdet * x.shape[2] * x.shape[3]).expand(len(x))

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        w, _ = self.matrix()
        w_inv = torch.linalg.inv(w.double()).to(w.dtype)
        return F.conv2d(y, w_inv.view(*w_inv.shape, 1, 1))


class ZeroConv2d(nn.Module):
    """A zero-initialised convolution with a learned per-channel log-scale (x3), as Glow's
    Conv2dZeros: each flow step starts as the identity."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)
        self.logs = nn.Parameter(torch.zeros(1, c_out, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * torch.exp(self.logs * 3.0)


# -- autoregressive layers (flat vectors) --------------------------------------------------
class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 connectivity mask."""

    def __init__(self, n_in: int, n_out: int, mask: torch.Tensor) -> None:
        super().__init__(n_in, n_out)
        self.register_buffer("mask", mask.float(), persistent=False)  # rebuilt from the degrees

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Masked autoencoder: outputs (mu, a), each (n, D), where output d depends only on inputs
    earlier than d in ``order`` (degrees 1..D; hidden degrees assigned sequentially, as MAF's
    'sequential' mode)."""

    def __init__(self, dim: int, hidden_sizes: list[int], reverse: bool = False) -> None:
        super().__init__()
        if dim < 2:
            raise ValueError("MADE needs at least 2 dimensions")
        degrees = torch.arange(1, dim + 1)
        self.register_buffer("order", degrees.flip(0) if reverse else degrees, persistent=False)
        layers: list[nn.Module] = []
        prev = self.order
        for size in hidden_sizes:
            deg = torch.arange(size) % (dim - 1) + 1
            layers += [MaskedLinear(len(prev), size, deg[:, None] >= prev[None, :]), nn.ReLU()]
            prev = deg
        out_deg = torch.cat([self.order, self.order])
        layers.append(MaskedLinear(len(prev), 2 * dim, out_deg[:, None] > prev[None, :]))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, a = self.net(x).chunk(2, 1)
        return mu, a


class MAFLayer(nn.Module):
    """u = (x - mu(x)) * exp(-a(x)); log|det du/dx| = -sum a. Inverse: D sequential passes."""

    MAX_LOG_SCALE = 6.0  # soft bound on |a| for stability: a = 6 tanh(raw / 6)

    def __init__(self, dim: int, hidden_sizes: list[int], reverse: bool = False) -> None:
        super().__init__()
        self.dim = dim
        self.made = MADE(dim, hidden_sizes, reverse)

    def _params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, raw = self.made(x)
        return mu, self.MAX_LOG_SCALE * torch.tanh(raw / self.MAX_LOG_SCALE)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, a = self._params(x)
        return (x - mu) * torch.exp(-a), -a.sum(1)

    def inverse(self, u: torch.Tensor) -> torch.Tensor:
        x = torch.zeros_like(u)
        for _ in range(self.dim):  # after pass k the first k variables (in order) are exact
            mu, a = self._params(x)
            x = u * torch.exp(a) + mu
        return x


class BatchNormFlow(nn.Module):
    """Batch normalisation as an invertible layer on (n, D): batch statistics in training,
    running averages in eval (so a sample never depends on its batch)."""

    def __init__(self, dim: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.log_gamma = nn.Parameter(torch.zeros(dim))
        self.beta = nn.Parameter(torch.zeros(dim))
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training:
            mean, var = x.mean(0), x.var(0, unbiased=False)
            with torch.no_grad():
                m = self.momentum
                self.running_mean.mul_(1 - m).add_(m * mean)
                self.running_var.mul_(1 - m).add_(m * var)
        else:
            mean, var = self.running_mean, self.running_var
        y = (x - mean) / torch.sqrt(var + self.eps) * torch.exp(self.log_gamma) + self.beta
        logdet = (self.log_gamma - 0.5 * torch.log(var + self.eps)).sum()
        return y, logdet.expand(len(x))

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        std = torch.sqrt(self.running_var + self.eps)
        return (y - self.beta) * torch.exp(-self.log_gamma) * std + self.running_mean

