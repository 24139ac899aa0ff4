"""The DAMSM image encoder: local (region) features and a global feature, both projected into
the text encoder's space of size nef (AttnGAN, Xu et al. 2018, section 3.2 "image encoder";
original class ``CNN_ENCODER`` in taoxugit/AttnGAN code/model.py).

``InceptionEncoder`` is the paper's layout: images are resized to 299x299 (bilinear) and run
through Inception-v3; the 768 x 17 x 17 map after ``Mixed_6e`` gives the regions
(``emb_features``, a bias-free 1x1 conv to nef) and the 2048-d average pool after ``Mixed_7c``
the global code (``emb_cnn_code``, a Linear to nef). The backbone is torchvision's inception_v3
with random initialisation (nothing is downloaded) and, as in the original, frozen; its
submodules keep the original names (``Conv2d_1a_3x3.conv.weight``, ``Mixed_5b.branch1x1.bn.
running_mean``, ...), so an original ``image_encoder200.pth`` loads key for key (it predates
``num_batches_tracked``: load with ``strict=False`` or add those buffers).

``SmallImageEncoder`` is the shapes encoder trained here: 64x64 images to 8x8 regions and a
global code. Both take images in [-1, 1] (the generators' tanh range, as the originals feed
them) and return ``(features (n, nef, h, w), cnn_code (n, nef))``.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

INCEPTION_LAYERS = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
                    "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                    "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c")

PAPER: dict[str, Any] = {"kind": "inception", "nef": 256}
SMALL: dict[str, Any] = {"kind": "small", "nef": 128, "widths": [32, 64, 128, 64]}
TINY: dict[str, Any] = {"kind": "small", "nef": 16, "widths": [8, 8, 16, 16]}
CONFIGS = {"paper": PAPER, "small": SMALL, "tiny": TINY}


class InceptionEncoder(nn.Module):
    """AttnGAN's ``CNN_ENCODER`` (Inception-v3 up to Mixed_7c, random init, frozen backbone)."""

    def __init__(self, nef: int = 256, freeze_backbone: bool = True, align_corners: bool = False) -> None:
        super().__init__()
        from torchvision.models import inception_v3

        net = inception_v3(weights=None, aux_logits=False, init_weights=False)
        for name in INCEPTION_LAYERS:
            setattr(self, name, getattr(net, name))
            if freeze_backbone:
                getattr(self, name).requires_grad_(False)
        self.nef = nef
        # the original upsampled with nn.Upsample(mode='bilinear'); PyTorch < 0.4 aligned corners
        self.align_corners = align_corners
        self.emb_features = nn.Conv2d(768, nef, kernel_size=1, bias=False)
        self.emb_cnn_code = nn.Linear(2048, nef)
        nn.init.uniform_(self.emb_features.weight, -0.1, 0.1)  # init_trainable_weights
        nn.init.uniform_(self.emb_cnn_code.weight, -0.1, 0.1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=self.align_corners)
        for name in INCEPTION_LAYERS[:3]:
            x = getattr(self, name)(x)
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # 73 x 73
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)  # 35 x 35
        for name in INCEPTION_LAYERS[5:13]:
            x = getattr(self, name)(x)
        features = x  # 768 x 17 x 17: the image regions
        for name in INCEPTION_LAYERS[13:]:
            x = getattr(self, name)(x)
        x = F.avg_pool2d(x, kernel_size=8).flatten(1)  # 2048
        return self.emb_features(features), self.emb_cnn_code(x)


class SmallImageEncoder(nn.Module):
    """Strided 4x4 convolutions for 64x64 shapes: 64 -> 32 -> 16 -> 8 (the regions, 22-pixel
    receptive fields), then a strided 3x3 conv to 4 x 4 for the global code. ``widths`` has
    four entries.

    ``features`` has the layout of the shapes attribute classifier's ``body``, so it can start
    from that network's weights -- the role ImageNet-trained Inception plays in the original
    (see scripts/train_damsm.py).

    Unlike Inception's average pool, the global code reads the whole 4x4 map (flatten, then
    ``emb_cnn_code``): shapes captions are about positions and relations, which a spatial
    average would blur."""

    def __init__(self, nef: int = 128, widths: list[int] | tuple[int, ...] = (32, 64, 128, 64),
                 in_channels: int = 3) -> None:
        super().__init__()
        w = list(widths)
        if len(w) != 4:
            raise ValueError("widths needs four entries")
        self.nef = nef

        def conv(cin: int, cout: int, k: int, norm: bool = True) -> list[nn.Module]:
            layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, 2, 1, bias=not norm)]
            return layers + ([nn.BatchNorm2d(cout)] if norm else []) + [nn.ReLU(inplace=True)]

        self.features = nn.Sequential(*conv(in_channels, w[0], 4, norm=False), *conv(w[0], w[1], 4), *conv(w[1], w[2], 4))
        self.global_features = nn.Sequential(*conv(w[2], w[3], 3))
        self.emb_features = nn.Conv2d(w[2], nef, kernel_size=1, bias=False)
        self.emb_cnn_code = nn.Linear(w[3] * 4 * 4, nef)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[-2:] != (64, 64):
            x = F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > 64)
        h = self.features(x)  # w2 x 8 x 8
        g = self.global_features(h).flatten(1)
        return self.emb_features(h), self.emb_cnn_code(g)


def build_image_encoder(config: str | dict[str, Any] = "small") -> nn.Module:
    """An image encoder from a named config ("paper", "small", "tiny") or a dict with ``kind``."""
    cfg = dict(CONFIGS[config]) if isinstance(config, str) else dict(config)
    kind = cfg.pop("kind", "small")
    if kind == "inception":
        return InceptionEncoder(**cfg)
    if kind == "small":
        return SmallImageEncoder(**cfg)
    raise ValueError(f"unknown image encoder kind {kind!r}")
