"""The data transform shared by every flow, defined once.

Pixels x lie in [0, 1]. We treat an image as K-level data (K = ``num_bins``): the digits are
natively 17-level (sklearn's 8x8 digits are integers 0..16, scaled by 1/16), so the trained
models use K = 17 at 8x8 and discretisation loses nothing; K = 256 is the usual 8-bit setting
(the papers' configs).

1. discretise:  k = round((K-1) x)                    in {0, ..., K-1}^D
2. dequantise:  x~ = (k + u - 1/2) / (K-1), u ~ U[0,1)^D   (uniform noise filling x's cell of
   width 1/(K-1) centred on the level; Theis et al. 2016)
3. to the unit cube:  y = ((K-1) x~ + 1/2) / K          in [0, 1)   (so y = (k + u) / K)
4. logit:  s = alpha + (1 - 2 alpha) y,  v = logit(s)   (Dinh et al. 2017, sec. 4.1)

The flow f maps v to eps ~ N(0, I). ``log_prob(x)`` is the exact density over the pixel scale:

    log p(x) = log N(f(v); 0, I) + log|det df/dv|
               + sum_d [log(1 - 2 alpha) - log s_d - log(1 - s_d)] + D log((K-1)/K)

and the discrete bits/dim of the K-level image is bounded (Jensen, over u) by

    bits/dim(x) = -E_u[log p(x~)] / (D ln 2) + log2(K - 1)

(the same number as -log p_y(y) / (D ln 2) + log2(K) on the unit cube). `zoo eval --metrics nll`
reports the continuous -log p(x) / (D ln 2) at the undisturbed pixels, about log2(K-1) lower.
Sampling runs the chain backwards: eps -> v -> s -> y -> x = (K y - 1/2) / (K-1), clipped to [0, 1].
"""
from __future__ import annotations

import math

import torch

NUM_BINS = 256  # 8-bit pixels (the papers)
DIGITS_BINS = 17  # the digits' native grey levels
REALNVP_ALPHA = 0.05  # Dinh et al. (2017), section 4.1


def discretize(x01: torch.Tensor, num_bins: int) -> torch.Tensor:
    """Pixels in [0, 1] -> integer levels {0, ..., K-1} (as floats)."""
    return torch.round(x01.clamp(0, 1) * (num_bins - 1))


def dequantize(x01: torch.Tensor, num_bins: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(round((K-1) x) + u - 1/2) / (K-1) with u ~ U[0, 1): a uniform point in x's level cell."""
    u = torch.rand(x01.shape, generator=generator).to(x01.device, x01.dtype)
    return (discretize(x01, num_bins) + u - 0.5) / (num_bins - 1)


def pixels_to_logit(x: torch.Tensor, num_bins: int, alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """x -> v = logit(alpha + (1 - 2 alpha) y), y = ((K-1) x + 1/2) / K; and log|dv/dx| per example."""
    y = ((num_bins - 1) * x + 0.5) / num_bins
    s = alpha + (1 - 2 * alpha) * y
    v = torch.log(s) - torch.log1p(-s)
    per_dim = math.log((1 - 2 * alpha) * (num_bins - 1) / num_bins) - torch.log(s) - torch.log1p(-s)
    return v, per_dim.flatten(1).sum(1)


def logit_to_pixels(v: torch.Tensor, num_bins: int, alpha: float, clip: bool = True) -> torch.Tensor:
    """The inverse of `pixels_to_logit` (clipped to [0, 1] for output images)."""
    y = (torch.sigmoid(v) - alpha) / (1 - 2 * alpha)
    x = (num_bins * y - 0.5) / (num_bins - 1)
    return x.clamp(0, 1) if clip else x


def bits_per_dim(log_prob_nats: torch.Tensor, dims: int, num_bins: int) -> torch.Tensor:
    """-log p(x~) / (D ln 2) + log2(K-1): discrete bits/dim of K-level data from the pixel density."""
    return -log_prob_nats / (dims * math.log(2)) + math.log2(num_bins - 1)


def standard_normal_log_prob(eps: torch.Tensor) -> torch.Tensor:
    """log N(eps; 0, I) summed per example."""
    return -0.5 * (eps.pow(2) + math.log(2 * math.pi)).flatten(1).sum(1)


FORMULA = ("bits/dim = -log p(x~) / (D ln 2) + log2(K-1) with x~ = (round((K-1) x) + u - 1/2) / (K-1), "
           "u ~ U[0,1)^D (one seeded draw); log p(x~) = log N(f(v); 0, I) + log|det df/dv| "
           "+ sum_d [log(1-2a) - log s_d - log(1-s_d)] + D log((K-1)/K), s = a + (1-2a) y, "
           "y = ((K-1) x~ + 1/2) / K, v = logit(s); equivalently -log p_y(y) / (D ln 2) + log2(K). "
           "An upper bound on the discrete NLL of the K-level image")
