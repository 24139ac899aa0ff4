"""NCSN (Song & Ermon 2019): a noise-conditional score network s_theta(x, sigma_i) ~ grad log
q_sigma_i(x), trained by denoising score matching over L geometric noise levels and sampled
with annealed Langevin dynamics.

The network is the paper's (Appendix B.1): a 4-cascaded RefineNet whose every normalisation is
conditional instance norm++ (per-level scale, shift and channel-mean correction), ELU
activations, and dilated convolutions instead of subsampling in the residual blocks after the
first down-sampling one. It is conditioned on the index i of sigma_i. Images live in [0, 1].
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zoo_core.model import GenerativeModel

from .samplers import AnnealedLangevinSampler
from .schedules import geometric_sigmas


class CondInstanceNormPP(nn.Module):
    """Conditional instance norm++: gamma_y * IN(x) + beta_y + alpha_y * standardised channel means.

    Statistics are per sample and per channel: a sample never depends on the rest of its batch.
    """

    def __init__(self, ch: int, num_classes: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_classes, 3 * ch)
        nn.init.normal_(self.embed.weight[:, :2 * ch], 1.0, 0.02)  # gamma, alpha
        nn.init.zeros_(self.embed.weight[:, 2 * ch:])  # beta

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        mu = x.mean(dim=(2, 3))  # (n, C): per sample, per channel (torch.var_mean is ~10x slower)
        d = x - mu[..., None, None]
        var = (d * d).mean(dim=(2, 3))
        m, v = mu.mean(-1, keepdim=True), mu.var(-1, keepdim=True, unbiased=False)
        gamma, alpha, beta = self.embed(y).chunk(3, dim=-1)
        scale = gamma / (var + 1e-5).sqrt()
        # gamma (IN(x) + alpha mu_hat) + beta, folded into one x * scale + shift
        shift = beta + gamma * alpha * (mu - m) / (v + 1e-5).sqrt() - scale * mu
        return torch.addcmul(shift[..., None, None], x, scale[..., None, None])


def conv3(cin: int, cout: int, dilation: int = 1, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=dilation, dilation=dilation, bias=bias)


def max_pool5(x: torch.Tensor) -> torch.Tensor:
    """5x5 max pooling, stride 1, same size: F.max_pool2d(x, 5, 1, 2) computed separably
    (rows, then columns), an order of magnitude faster on CPU for small maps."""
    h, w = x.shape[-2:]
    p = F.pad(x, (2, 2, 2, 2), value=float("-inf"))
    rows = torch.stack([p[..., i:i + w] for i in range(5)]).amax(0)
    return torch.stack([rows[..., i:i + h, :] for i in range(5)]).amax(0)


class CondResBlock(nn.Module):
    """norm, ELU, conv, norm, ELU, conv (+ shortcut). `down` halves the resolution (conv, then
    2x2 mean pooling) unless `dilation` > 1, where dilated convolutions replace subsampling."""

    def __init__(self, cin: int, cout: int, num_classes: int, down: bool = False, dilation: int = 1) -> None:
        super().__init__()
        self.pool = down and dilation == 1
        self.norm1, self.conv1 = CondInstanceNormPP(cin, num_classes), conv3(cin, cin if down else cout, dilation)
        self.norm2 = CondInstanceNormPP(cin if down else cout, num_classes)
        self.conv2 = conv3(cin if down else cout, cout, dilation)
        self.skip = None
        if cin != cout or down:
            self.skip = conv3(cin, cout, dilation) if dilation > 1 else nn.Conv2d(cin, cout, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.elu(self.norm1(x, y)))
        h = self.conv2(F.elu(self.norm2(h, y)))
        s = x if self.skip is None else self.skip(x)
        if self.pool:
            h, s = F.avg_pool2d(h, 2), F.avg_pool2d(s, 2)
        return h + s


class CondRCU(nn.Module):
    """Residual conv unit(s) of RefineNet: `blocks` x (`stages` x (norm, ELU, conv)) + identity."""

    def __init__(self, ch: int, num_classes: int, blocks: int, stages: int = 2) -> None:
        super().__init__()
        self.norms = nn.ModuleList(CondInstanceNormPP(ch, num_classes) for _ in range(blocks * stages))
        self.convs = nn.ModuleList(conv3(ch, ch, bias=False) for _ in range(blocks * stages))
        self.stages = stages

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        for b in range(0, len(self.convs), self.stages):
            h = x
            for norm, conv in zip(self.norms[b:b + self.stages], self.convs[b:b + self.stages]):
                h = conv(F.elu(norm(h, y)))
            x = x + h
        return x


class CondRefineBlock(nn.Module):
    """RefineNet block: RCUs on each input, multi-resolution fusion (conv each path to
    `features`, upsample to the largest, sum), chained residual pooling, an output RCU."""

    def __init__(self, in_chs: list[int], features: int, num_classes: int, end: bool = False) -> None:
        super().__init__()
        self.adapt = nn.ModuleList(CondRCU(c, num_classes, 2) for c in in_chs)
        self.fuse_norms = nn.ModuleList(CondInstanceNormPP(c, num_classes) for c in in_chs)
        self.fuse_convs = nn.ModuleList(conv3(c, features) for c in in_chs)
        self.crp_norms = nn.ModuleList(CondInstanceNormPP(features, num_classes) for _ in range(2))
        self.crp_convs = nn.ModuleList(conv3(features, features, bias=False) for _ in range(2))
        self.out = CondRCU(features, num_classes, 3 if end else 1)

    def forward(self, xs: list[torch.Tensor], y: torch.Tensor) -> torch.Tensor:
        size = xs[0].shape[-2:]
        h = 0
        for x, adapt, norm, conv in zip(xs, self.adapt, self.fuse_norms, self.fuse_convs):
            x = conv(norm(adapt(x, y), y))
            h = h + (x if x.shape[-2:] == size else F.interpolate(x, size=size, mode="bilinear",
                                                                   align_corners=True))
        h = path = F.elu(h)  # chained residual pooling
        for norm, conv in zip(self.crp_norms, self.crp_convs):
            path = conv(max_pool5(norm(path, y)))
            h = h + path
        return self.out(h, y)


class CondRefineNet(nn.Module):
    """s_theta(x, i): four residual stages (ngf, 2ngf down, 2ngf dilation 2, 2ngf dilation 4),
    refined top-down by four RefineNet blocks, then norm, ELU, 3x3 conv to the image channels."""

    def __init__(self, channels: int, ngf: int, num_classes: int) -> None:
        super().__init__()
        L, f2 = num_classes, 2 * ngf
        self.begin = conv3(channels, ngf)
        self.stages = nn.ModuleList([
            nn.ModuleList([CondResBlock(ngf, ngf, L), CondResBlock(ngf, ngf, L)]),
            nn.ModuleList([CondResBlock(ngf, f2, L, down=True), CondResBlock(f2, f2, L)]),
            nn.ModuleList([CondResBlock(f2, f2, L, down=True, dilation=2), CondResBlock(f2, f2, L, dilation=2)]),
            nn.ModuleList([CondResBlock(f2, f2, L, down=True, dilation=4), CondResBlock(f2, f2, L, dilation=4)]),
        ])
        self.refine = nn.ModuleList([CondRefineBlock([f2], f2, L), CondRefineBlock([f2, f2], f2, L),
                                     CondRefineBlock([f2, f2], ngf, L), CondRefineBlock([ngf, ngf], ngf, L, end=True)])
        self.norm, self.end = CondInstanceNormPP(ngf, L), conv3(ngf, channels)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.begin(2 * x - 1)  # the paper's networks see images centred on [-1, 1]
        feats = []
        for stage in self.stages:
            for block in stage:
                h = block(h, y)
            feats.append(h)
        h = self.refine[0]([feats[3]], y)
        for refine, skip in zip(self.refine[1:], reversed(feats[:3])):
            h = refine([skip, h], y)
        return self.end(F.elu(self.norm(h, y)))


class NCSN(GenerativeModel):
    """Noise-conditional score network with its noise levels and Langevin defaults."""

    family = "ncsn"
    kind = "image"
    value_range = (0.0, 1.0)
    samplers = {"langevin": AnnealedLangevinSampler}

    def __init__(self, image_size: int = 32, channels: int = 3, ngf: int = 128, num_classes: int = 10,
                 sigma_begin: float = 1.0, sigma_end: float = 0.01, steps_per_level: int = 100,
                 step_eps: float = 2e-5) -> None:
        super().__init__()
        self.image_size, self.channels = image_size, channels
        self.steps_per_level, self.step_eps = steps_per_level, step_eps
        self.net = CondRefineNet(channels, ngf, num_classes)
        self.sigmas64 = geometric_sigmas(sigma_begin, sigma_end, num_classes)  # float64, CPU
        self.register_buffer("sigmas", self.sigmas64.float(), persistent=False)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.image_size, self.image_size)

    def forward(self, x: torch.Tensor, level: torch.Tensor | int) -> torch.Tensor:
        """The score at noise level index `level` (n,) or one int (0 = sigma_1, the largest)."""
        if not torch.is_tensor(level) or level.dim() == 0:
            level = torch.full((x.shape[0],), int(level), device=x.device, dtype=torch.long)
        return self.net(x, level)

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Denoising score matching (eq. 5-6) with lambda(sigma) = sigma^2:
        1/2 || sigma s(x~, sigma) + (x~ - x) / sigma ||^2, summed over pixels, sigma ~ U{sigma_i}."""
        level = torch.randint(0, len(self.sigmas), (x.shape[0],), generator=generator).to(x.device)
        sigma = self.sigmas[level].view(-1, 1, 1, 1)
        noise = torch.randn(x.shape, generator=generator).to(x.device)
        score = self(x + sigma * noise, level)
        return 0.5 * (sigma * score + noise).pow(2).flatten(1).sum(1).mean()
