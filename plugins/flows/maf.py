"""Masked Autoregressive Flow (Papamakarios, Pavlakou & Murray, 2017): a stack of MADEs.

Each layer maps x to u = (x - mu(x)) * exp(-a(x)) with (mu, a) from a MADE (Germain et al. 2015)
whose masks make output d depend only on inputs earlier than d; the order reverses from one
layer to the next, and a batch-norm bijection follows each MADE (sec. 3.4, as the authors'
code). Density evaluation is one pass per layer; sampling inverts each layer with D sequential
passes. Images are flattened to D = C*H*W.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .base import FlowModel
from .dequantize import DIGITS_BINS, REALNVP_ALPHA
from .layers import BatchNormFlow, MAFLayer


class MAF(FlowModel):
    """MAF over flattened (channels, image_size, image_size) pixels in [0, 1]."""

    family = "maf"

    def __init__(self, image_size: int = 8, channels: int = 1, num_layers: int = 5,
                 hidden_sizes: Sequence[int] = (192, 192), batch_norm: bool = True,
                 alpha: float = REALNVP_ALPHA, num_bins: int = DIGITS_BINS) -> None:
        super().__init__()
        self.image_shape = (channels, image_size, image_size)
        self.alpha, self.num_bins = alpha, num_bins
        hidden = [int(h) for h in hidden_sizes]
        d = self.data_dim
        self.layers = nn.ModuleList()
        for i in range(num_layers):
            self.layers.append(MAFLayer(d, hidden, reverse=i % 2 == 1))
            if batch_norm:
                self.layers.append(BatchNormFlow(d))

    def flow_forward(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = v.flatten(1)
        logdet = torch.zeros(len(x), device=x.device)
        for layer in self.layers:
            x, ld = layer(x)
            logdet = logdet + ld
        return x, logdet

    def flow_inverse(self, eps: torch.Tensor) -> torch.Tensor:
        x = eps
        for layer in reversed(self.layers):
            x = layer.inverse(x)
        return x.reshape(len(x), *self.image_shape)

    def made_layers(self) -> list[MAFLayer]:
        return [m for m in self.layers if isinstance(m, MAFLayer)]

    @torch.no_grad()
    def set_batchnorm_stats(self, y: torch.Tensor) -> None:
        """Set every BatchNormFlow's running mean/variance to the exact statistics of `y`
        (e.g. the whole training set) passed through the layers below it (MAF sec. 3.4)."""
        from .dequantize import pixels_to_logit

        v, _ = pixels_to_logit(self._images(y), self.num_bins, self.alpha)
        x = v.flatten(1)
        for layer in self.layers:
            if isinstance(layer, BatchNormFlow):
                layer.running_mean.copy_(x.mean(0))
                layer.running_var.copy_(x.var(0, unbiased=False))
                layer.eval()
            x, _ = layer(x)
