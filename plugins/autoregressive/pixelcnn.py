"""PixelCNN (van den Oord, Kalchbrenner & Kavukcuoglu, 2016, "Pixel Recurrent Neural Networks").

Grey images quantised to ``levels`` values, modelled pixel by pixel in raster order:
p(x) = prod_i p(x_i | x_<i), each factor a ``levels``-way softmax. A 7x7 convolution with mask
A (the centre pixel excluded) reads the image; residual blocks (1x1 -> 3x3 mask B -> 1x1, the
paper's Fig. 5) with mask B (centre included) keep every output i a function of inputs < i only;
two 1x1 ReLU layers give the logits. With ``gated=True`` the layers are the gated PixelCNN's
vertical and horizontal stacks instead (type-A then type-B 1 x k masked convolutions for the
row so far, tanh * sigmoid gates), which removes the masked stack's blind spot.

Quantisation: x in [0, 1] falls in level k = min(floor(x * levels), levels - 1) (bins of width
1/levels); a sampled level k is shown as k / (levels - 1), which lies in bin k, so 0 and 1 are
exact. ``log_prob_discrete(x)`` is log P(levels) (nats); ``log_prob(x)`` is the exact density on
[0, 1]^D of the same model with each bin spread uniformly: log P + D log(levels). So
discrete bits/dim = continuous bits/dim + log2(levels).
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo_core.errors import BadInputError
from zoo_core.model import GenerativeModel

from .samplers import PixelSampler


class MaskedConv2d(nn.Conv2d):
    """A convolution that sees only pixels above, and to the left on the centre row; mask
    'A' also hides the centre pixel, mask 'B' keeps it. Kernels may be (k, k) or (1, k)."""

    def __init__(self, mask_type: str, in_channels: int, out_channels: int,
                 kernel_size: int | tuple[int, int]) -> None:
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        super().__init__(in_channels, out_channels, (kh, kw), padding=(kh // 2, kw // 2))
        mask = torch.ones_like(self.weight)
        ch, cw = kh // 2, kw // 2
        mask[:, :, ch, cw + (mask_type == "B"):] = 0
        mask[:, :, ch + 1:] = 0
        self.mask_type = mask_type
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class ResidualBlock(nn.Module):
    """2h -> ReLU, 1x1 -> h -> ReLU, 3x3 mask B -> h -> ReLU, 1x1 -> 2h, plus the input; a class
    label (when `num_classes` > 0) adds a learned bias to the masked conv's input."""

    def __init__(self, hidden: int, num_classes: int = 0) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(2 * hidden, hidden, 1)
        self.conv = MaskedConv2d("B", hidden, hidden, 3)
        self.expand = nn.Conv2d(hidden, 2 * hidden, 1)
        self.cond = nn.Embedding(num_classes, hidden) if num_classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = self.reduce(F.relu(x))
        if self.cond is not None:
            h = h + self.cond(labels)[:, :, None, None]
        h = self.conv(F.relu(h))
        return x + self.expand(F.relu(h))


class VerticalConv(nn.Conv2d):
    """Output (r, c) sees rows r - k//2 .. r - 1 (strictly above), columns c - k//2 .. c + k//2."""

    def __init__(self, in_channels: int, out_channels: int, k: int) -> None:
        super().__init__(in_channels, out_channels, (k // 2, k))
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.shape[2]
        return super().forward(F.pad(x, (self.k // 2, self.k // 2, self.k // 2, 0)))[:, :, :h]


class GatedLayer(nn.Module):
    """Gated PixelCNN layer (van den Oord et al., 2016, "Conditional Image Generation with PixelCNN
    Decoders"): a vertical stack over the rows above and a horizontal stack over the row so far
    (a 1 x k masked conv, type A in the first layer), tanh * sigmoid gates, the vertical stack fed
    into the horizontal one, and a residual connection on the horizontal stack. No blind spot.
    A class label (when `num_classes` > 0) adds a learned bias to both stacks' gates."""

    def __init__(self, in_channels: int, channels: int, k: int, first: bool, num_classes: int = 0) -> None:
        super().__init__()
        self.first = first
        self.cond = nn.Embedding(num_classes, 4 * channels) if num_classes else None
        self.v = VerticalConv(in_channels, 2 * channels, k)
        self.h = MaskedConv2d("A" if first else "B", in_channels, 2 * channels, (1, k))
        self.v_to_h = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.h_out = nn.Conv2d(channels, channels, 1)

    @staticmethod
    def gate(x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, 1)
        return torch.tanh(a) * torch.sigmoid(b)

    def forward(self, v: torch.Tensor, h: torch.Tensor,
                labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        v_pre, h_pre = self.v(v), self.h(h)
        if self.cond is not None:
            v_bias, h_bias = self.cond(labels)[:, :, None, None].chunk(2, 1)
            v_pre, h_pre = v_pre + v_bias, h_pre + h_bias
        h_new = self.h_out(self.gate(h_pre + self.v_to_h(v_pre)))
        return self.gate(v_pre), h_new if self.first else h + h_new


class PixelCNN(GenerativeModel):
    """Single-channel PixelCNN over `levels` grey levels; exact log-likelihood. With
    `num_classes` > 0 it is class-conditional, p(x) = sum_y p(y) p(x | y) with a uniform p(y): a
    label may be given when sampling, and is drawn from p(y) otherwise. With `coords` the first
    layer also reads each pixel's row and column (fixed maps, not data), so the network knows
    where in the image it is drawing (the conditioning biases are the same everywhere). With
    `class_maps` (masked stack) each class also adds a learned H x W map to the first layer's
    features: location-dependent conditioning, as in the gated PixelCNN paper's s = m(h)."""

    family = "pixelcnn"
    kind = "image"
    value_range = (0.0, 1.0)
    samplers = {"ancestral": PixelSampler}
    condition_kind = "label"  # only for class-conditional models; optional
    condition_required = False
    log_prob_is_bound = False

    def __init__(self, image_size: int = 16, levels: int = 8, hidden: int = 32, blocks: int = 8,
                 head: int = 128, gated: bool = False, num_classes: int = 0, coords: bool = False,
                 class_maps: bool = False) -> None:
        super().__init__()
        if levels < 2:
            raise ValueError(f"levels must be at least 2, got {levels}")
        if class_maps and (gated or not num_classes):
            raise ValueError("class_maps needs the masked stack (gated=False) and num_classes > 0")
        self.num_classes, self.coords, self.class_maps = num_classes, coords, class_maps
        inputs = 3 if coords else 1
        self.image_size, self.levels, self.hidden, self.blocks = image_size, levels, hidden, blocks
        self.head_width, self.gated = head, gated
        width = hidden if gated else 2 * hidden
        if gated:  # a 7-wide type-A first layer, then 3-wide type-B layers
            self.layers = nn.ModuleList(
                [GatedLayer(inputs, hidden, 7, first=True, num_classes=num_classes)]
                + [GatedLayer(hidden, hidden, 3, first=False, num_classes=num_classes) for _ in range(blocks)])
        else:
            self.input_conv = MaskedConv2d("A", inputs, 2 * hidden, 7)
            self.res = nn.ModuleList(ResidualBlock(hidden, num_classes) for _ in range(blocks))
            if class_maps:
                self.class_map = nn.Parameter(torch.zeros(num_classes, width, image_size, image_size))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(width, head, 1), nn.ReLU(),
                                  nn.Conv2d(head, levels, 1))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (1, self.image_size, self.image_size)

    # -- levels <-> values -----------------------------------------------------------------
    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        """Values in [0, 1] -> integer levels (bins of width 1 / levels)."""
        return (x.float() * self.levels).floor().clamp(0, self.levels - 1).long()

    def dequantize(self, levels: torch.Tensor) -> torch.Tensor:
        """Levels -> the values shown, k / (levels - 1), in [0, 1]."""
        return levels.float() / (self.levels - 1)

    # -- the network ---------------------------------------------------------------------
    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (n, levels, H, W) from images (n, 1, H, W) in [0, 1] (and class labels (n,) for
        a conditional model); logits at pixel i depend only on the pixels before i in raster order."""
        x = x * 2 - 1
        if self.num_classes and labels is None:
            raise BadInputError("this pixelcnn is class-conditional: pass labels")
        labels = labels.to(x.device) if self.num_classes else None
        if self.coords:  # row and column in [-1, 1]
            n, _, h, w = x.shape
            rows = torch.linspace(-1, 1, self.image_size, device=x.device)[:h, None].expand(h, w)
            cols = torch.linspace(-1, 1, self.image_size, device=x.device)[None, :w].expand(h, w)
            x = torch.cat([x, rows.expand(n, 1, h, w), cols.expand(n, 1, h, w)], 1)
        if self.gated:
            v = h = x
            for layer in self.layers:
                v, h = layer(v, h, labels)
            return self.head(h)
        h = self.input_conv(x)
        if self.class_maps:
            h = h + self.class_map[labels][:, :, :h.shape[2], :h.shape[3]]
        for block in self.res:
            h = block(h, labels)
        return self.head(h)

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise BadInputError(f"pixelcnn takes images of shape (n, {', '.join(map(str, self.image_shape))}), "
                                f"got {tuple(x.shape)}")
        return x.to(self.device)

    def log_prob_discrete(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """log P(quantised x) in nats per image (exact); for a conditional model, given `labels`,
        or without them the mixture over the uniform label prior."""
        k = self.quantize(self._check(x))
        if self.num_classes and labels is None:
            per = torch.stack([self.log_prob_discrete(x, torch.full((len(x),), y, dtype=torch.long))
                               for y in range(self.num_classes)], 1)
            return torch.logsumexp(per, 1) - math.log(self.num_classes)
        logits = self(self.dequantize(k), labels)
        return -F.cross_entropy(logits.float(), k[:, 0], reduction="none").flatten(1).sum(1)

    @property
    def likelihood_space(self) -> str:
        """What `zoo eval --metrics nll` reports (it scores with ``log_prob``)."""
        return (f"continuous density over [0, 1] of the uniformly dequantised {self.levels}-level model "
                f"(exact; the discrete bits/dim is this plus log2({self.levels}))")

    def log_prob(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Exact log-density (nats per image) on [0, 1]^D of the uniformly dequantised model."""
        dims = math.prod(self.image_shape)
        return self.log_prob_discrete(x, labels) + dims * math.log(self.levels)

    def loss(self, batch: torch.Tensor | tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Mean negative log-likelihood in nats per pixel (discrete) of images, or of
        (images, labels) for a conditional model."""
        x, labels = batch if isinstance(batch, (tuple, list)) else (batch, None)
        return -self.log_prob_discrete(x, labels).mean() / math.prod(self.image_shape)

    def check_condition(self, condition: Any) -> None:
        if not self.num_classes:
            raise BadInputError("this pixelcnn is unconditional and takes no label")
        super().check_condition(condition)
        if not 0 <= condition < self.num_classes:
            raise BadInputError(f"label {condition} is out of range 0..{self.num_classes - 1}")
