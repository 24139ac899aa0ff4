"""The energy network E(x): low energy on data, p(x) proportional to exp(-E(x)) on [0, 1]^D.

Two architectures:

* ``resnet`` (the paper's CIFAR-10 "ResNet32", Du & Mordatch 2019 appendix): a 3x3 conv, six
  residual blocks [w down, w, 2w down, 2w, 2w down, 2w] (pre-activation, two 3x3 convs and a
  1x1 shortcut where the width changes, 2x2 average pooling to go down), ReLU, global sum
  pooling and a dense layer to one energy.
* ``conv`` (small nets for CPU training, in the spirit of Nijkamp et al. 2019's short-run EBMs):
  stride-2 4x4 convs doubling the width down to 4x4, a 4x4 valid conv to 1x1, a dense layer.

Spectral normalisation (Miyato et al. 2018) can wrap every conv and dense layer, as in the
paper. There is no batch norm: an image's energy never depends on the rest of its batch.

``energy_size`` (default: ``image_size``) is the resolution the energy is defined at. When it
is smaller, samples are upsampled bilinearly to ``image_size`` (align_corners False, clamped
to [0, 1]), exactly as `zoo_core.data.digits.load_digits` makes its 16x16 and 32x32 digits from
the 8x8 originals: an EBM of the 8x8 digits then samples the distribution of the 32x32 ones.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from zoo_core.errors import BadInputError
from zoo_core.model import GenerativeModel

from .langevin import LangevinSampler

ARCHS = ("conv", "resnet")
ACTIVATIONS = {"swish": nn.SiLU, "lrelu": lambda: nn.LeakyReLU(0.2)}


def _sn(layer: nn.Module, on: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(layer) if on else layer


class ResBlock(nn.Module):
    """Pre-activation residual block: x + conv(act(conv(act(x)))), optionally pooled 2x2."""

    def __init__(self, cin: int, cout: int, *, down: bool, act: type, sn: bool) -> None:
        super().__init__()
        self.act1, self.act2 = act(), act()
        self.conv1 = _sn(nn.Conv2d(cin, cout, 3, 1, 1), sn)
        self.conv2 = _sn(nn.Conv2d(cout, cout, 3, 1, 1), sn)
        self.shortcut = _sn(nn.Conv2d(cin, cout, 1), sn) if cin != cout else nn.Identity()
        self.down = down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv2(self.act2(self.conv1(self.act1(x))))
        out = self.shortcut(x) + h
        return F.avg_pool2d(out, 2) if self.down else out


def conv_energy(image_size: int, channels: int, width: int, act: type, sn: bool) -> nn.Sequential:
    k = math.log2(image_size / 4) if image_size >= 8 else 0.5
    if k != int(k):
        raise ValueError(f"the conv energy needs a power-of-two image_size >= 8, got {image_size}")
    layers: list[nn.Module] = [_sn(nn.Conv2d(channels, width, 4, 2, 1), sn), act()]
    w = width
    for _ in range(int(k) - 1):
        layers += [_sn(nn.Conv2d(w, 2 * w, 4, 2, 1), sn), act()]
        w *= 2
    layers += [_sn(nn.Conv2d(w, 2 * w, 4, 1, 0), sn), act(), nn.Flatten(), _sn(nn.Linear(2 * w, 1), sn)]
    return nn.Sequential(*layers)


def resnet_energy(image_size: int, channels: int, width: int, act: type, sn: bool) -> nn.Sequential:
    if image_size < 8 or image_size % 8:
        raise ValueError(f"the resnet energy needs an image_size divisible by 8, got {image_size}")
    w = width
    plan = [(w, w, True), (w, w, False), (w, 2 * w, True), (2 * w, 2 * w, False),
            (2 * w, 2 * w, True), (2 * w, 2 * w, False)]
    layers: list[nn.Module] = [_sn(nn.Conv2d(channels, w, 3, 1, 1), sn)]
    layers += [ResBlock(a, b, down=d, act=act, sn=sn) for a, b, d in plan]
    layers += [nn.ReLU(), SumPool(), _sn(nn.Linear(2 * w, 1), sn)]
    return nn.Sequential(*layers)


class SumPool(nn.Module):
    """Global sum pooling over the spatial dimensions."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum((2, 3))


class EBM(GenerativeModel):
    """An energy function E(x) over images in [0, 1]; sampled by Langevin dynamics."""

    family = "ebm"
    kind = "image"
    value_range = (0.0, 1.0)
    samplers = {"langevin": LangevinSampler}

    def __init__(self, image_size: int = 32, channels: int = 1, energy_size: int | None = None,
                 arch: str = "conv", width: int = 32, spectral_norm: bool = False,
                 activation: str = "swish", sample_steps: int = 60, step_size: float = 10.0,
                 noise: float = 0.005, grad_clip: float = 0.01) -> None:
        super().__init__()
        energy_size = image_size if energy_size is None else energy_size
        if not 0 < energy_size <= image_size:
            raise ValueError(f"energy_size must be in 1..image_size ({image_size}), got {energy_size}")
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
        self.image_size, self.channels, self.arch, self.width = image_size, channels, arch, width
        self.energy_size = energy_size
        self.sample_steps, self.step_size, self.noise, self.grad_clip = sample_steps, step_size, noise, grad_clip
        build = conv_energy if arch == "conv" else resnet_energy
        self.net = build(energy_size, channels, width, ACTIVATIONS[activation], spectral_norm)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The shape of a sample."""
        return (self.channels, self.image_size, self.image_size)

    @property
    def energy_shape(self) -> tuple[int, int, int]:
        """The shape the energy (and the Langevin chain) works at."""
        return (self.channels, self.energy_size, self.energy_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Energies (n,) of images (n, *energy_shape) in [0, 1]."""
        if tuple(x.shape[1:]) != self.energy_shape:
            raise BadInputError(f"expected images of shape (n, {', '.join(map(str, self.energy_shape))}),"
                                f" got {tuple(x.shape)}")
        return self.net(x).squeeze(1)

    def to_image(self, x: torch.Tensor) -> torch.Tensor:
        """Chain states (n, *energy_shape) as samples (n, *image_shape)."""
        if self.energy_size == self.image_size:
            return x
        size = (self.image_size, self.image_size)
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False).clamp(*self.value_range)
