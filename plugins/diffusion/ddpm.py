"""DDPM (Ho, Jain & Abbeel 2020): a U-Net eps_theta(x_t, t) trained to predict the noise of
the forward process q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I).

Images live in [-1, 1]. The schedule (betas, alpha_bar) is computed from the config, never
stored in the weights; samplers read it as float64 scalars.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from zoo_core.model import GenerativeModel

from .samplers import DDIMSampler, DDPMSampler
from .schedules import alphas_cumprod, make_betas
from .unet import UNet


class DDPM(GenerativeModel):
    """Denoising diffusion probabilistic model with an eps-prediction U-Net."""

    family = "ddpm"
    kind = "image"
    value_range = (-1.0, 1.0)
    # DDIM (50 steps) first, so it is the default: the ancestral sampler runs all T = 1000
    # network evaluations, 20 times the cost, which `--sampler ddpm` still gives.
    samplers = {"ddim": DDIMSampler, "ddpm": DDPMSampler}

    def __init__(self, image_size: int = 32, channels: int = 3, ch: int = 128,
                 ch_mult: Sequence[int] = (1, 2, 2, 2), num_res_blocks: int = 2,
                 attn_resolutions: Sequence[int] = (16,), dropout: float = 0.1, groups: int = 32,
                 T: int = 1000, schedule: str = "linear", beta_start: float = 1e-4,
                 beta_end: float = 0.02) -> None:
        super().__init__()
        self.image_size, self.channels, self.T = image_size, channels, T
        self.net = UNet(image_size, channels, ch, tuple(ch_mult), num_res_blocks,
                        tuple(attn_resolutions), dropout, groups)
        betas = make_betas(schedule, T, beta_start, beta_end)
        self.alpha_bar64 = alphas_cumprod(betas)  # float64, CPU: the samplers' coefficients
        self.register_buffer("alpha_bar", self.alpha_bar64.float(), persistent=False)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.image_size, self.image_size)

    def forward(self, x: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        """eps_theta(x_t, t) for images x_t (n, C, H, W) at timesteps t (n,) or one int."""
        if not torch.is_tensor(t) or t.dim() == 0:
            t = torch.full((x.shape[0],), int(t), device=x.device, dtype=torch.long)
        return self.net(x, t)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps."""
        ab = self.alpha_bar[t].view(-1, 1, 1, 1)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def loss(self, x0: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """L_simple (Ho et al. eq. 14): || eps - eps_theta(x_t, t) ||^2 with t ~ U{1..T}."""
        t = torch.randint(0, self.T, (x0.shape[0],), generator=generator).to(x0.device)
        noise = torch.randn(x0.shape, generator=generator).to(x0.device)
        return nn.functional.mse_loss(self(self.q_sample(x0, t, noise), t), noise)
