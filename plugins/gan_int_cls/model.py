"""GAN-INT-CLS generator (the published model) and matching-aware discriminator (training state).

Layout as in Reed et al. (2016) and their code (reedscot/icml2016, main_cls_int.lua):

- the sentence embedding phi(t) is projected by ``projection`` (Linear to ``nt`` and
  LeakyReLU(0.2)) and concatenated after z; ``netG`` is a DCGAN generator from that 1x1 code:
  a 4x4 transposed convolution to 8ngf, batch norm, a residual block (1x1 to 2ngf, 3x3, 3x3 back
  to 8ngf, each with batch norm; added, then ReLU), a stride-2 transposed convolution to 4ngf x
  8 x 8 with batch norm and a second residual block, then stride-2 transposed convolutions with
  batch norm and ReLU to ngf x 32 x 32 and the tanh image (64 x 64);
- the discriminator encodes the image with strided convolutions to 8ndf x 4 x 4, projects the
  embedding (Linear to ``nt``, batch norm, LeakyReLU), tiles it to 4 x 4, joins the two, and a
  1x1 convolution (batch norm, LeakyReLU) and a 4x4 convolution give one logit: the score of
  the (image, text) pair, so it can tell a real image with the wrong text from the right one.

Here the sentence embedding is the frozen DAMSM text encoder's sentence feature (the shapes
line's ``damsm-shapes`` bi-LSTM) instead of the original's char-CNN-RNN. The original's
convolutions carry bias vectors its training script zeroes before every update (batch norm
follows each), so they are left out here. Two quirks of the Lua discriminator are not copied:
its residual block is never added (``conc:add(skipD)`` adds a nil) and its 4ndf layer has no
activation; the discriminator here is the plain strided stack the paper describes.
"""
from __future__ import annotations

import torch
from torch import nn

from zoo_core.blocks.init import normal_init
from zoo_core.blocks.text_to_image import GeneratorOutput, TextFeatures, TextToImageModel

from .samplers import InterpolateSampler, TextToImageSampler


def init_weights(module: nn.Module) -> None:
    """The original's initialisation: convolutions from N(0, 0.02), batch-norm scales N(1, 0.02)."""
    normal_init(module, linear=False)


class ResidualBlock(nn.Module):
    """x + conv(x), then ReLU: conv = 1x1 to c/4, 3x3, 3x3 back to c (batch norm after each)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        mid = channels // 4
        self.conv = nn.Sequential(
            nn.Conv2d(channels, mid, 1, 1, 0, bias=False), nn.BatchNorm2d(mid), nn.ReLU(True),
            nn.Conv2d(mid, mid, 3, 1, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(True),
            nn.Conv2d(mid, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels))
        self.relu = nn.ReLU(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + self.conv(x))


def generator_layers(nz: int, nt: int, ngf: int, channels: int = 3) -> nn.Sequential:
    """(z, projected text) as (nz + nt) x 1 x 1 -> image (channels x 64 x 64) in [-1, 1]."""
    return nn.Sequential(
        nn.ConvTranspose2d(nz + nt, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8),
        ResidualBlock(ngf * 8),  # 8ngf x 4 x 4
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4),
        ResidualBlock(ngf * 4),  # 4ngf x 8 x 8
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, channels, 4, 2, 1, bias=False), nn.Tanh())


class MatchingDiscriminator(nn.Module):
    """D(x, phi(t)): one logit per (image, text) pair (GAN-CLS's matching-aware discriminator)."""

    def __init__(self, text_dim: int, nt: int = 128, ndf: int = 64, channels: int = 3) -> None:
        super().__init__()
        self.ndf, self.nt = ndf, nt
        lrelu = lambda: nn.LeakyReLU(0.2, inplace=True)  # noqa: E731
        self.netD_1 = nn.Sequential(
            nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), lrelu(),  # ndf x 32 x 32
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), lrelu(),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), lrelu(),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), lrelu())  # 8ndf x 4 x 4
        self.projection = nn.Sequential(nn.Linear(text_dim, nt), nn.BatchNorm1d(nt), lrelu())
        self.netD_2 = nn.Sequential(
            nn.Conv2d(ndf * 8 + nt, ndf * 8, 1, 1, 0, bias=False), nn.BatchNorm2d(ndf * 8), lrelu(),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False))
        init_weights(self)

    def forward(self, image: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        """Logits (n,) that the image is real *and* matches the text."""
        h = self.netD_1(image)
        t = self.projection(sentence)[:, :, None, None].expand(-1, -1, h.size(2), h.size(3))
        return self.netD_2(torch.cat((h, t), 1)).flatten()


class GANINTCLS(TextToImageModel):
    """The GAN-INT-CLS generator G(z, phi(t)) with its frozen text encoder."""

    family = "gan-int-cls"
    samplers = {"ancestral": TextToImageSampler, "interpolate": InterpolateSampler}
    card_notes = (
        "Text encoder: the sentence feature of the frozen DAMSM bi-LSTM trained on the shapes "
        "captions (damsm-shapes, 128 values), not the paper's char-CNN-RNN; it travels in these "
        "weights, so prompts work offline. The repo holds the generator only; the matching-aware "
        "discriminator is training state. The `ancestral` sampler draws z per sample; the "
        "`interpolate` sampler (GAN-INT style) walks the text embedding from each prompt to "
        "`--to PROMPT` in `--steps` columns with z fixed along a row. Batch norm runs in eval "
        "mode with statistics recomputed after training, so a sample never depends on its batch. "
        "GAN-INT-CLS has no tractable likelihood.")

    def __init__(self, vocab: list[str] | None = None, text_encoder: str | dict | None = "small",
                 max_words: int = 18, text_dim: int | None = None, image_size: int = 64,
                 nz: int = 100, nt: int = 128, ngf: int = 128, ndf: int = 64) -> None:
        super().__init__()
        if image_size != 64:
            raise ValueError(f"GAN-INT-CLS generates 64x64 images, got image_size={image_size}")
        self.init_text(vocab, text_encoder, max_words, text_dim)
        self.image_size, self.nz, self.nt, self.ngf, self.ndf = image_size, nz, nt, ngf, ndf
        self.z_dim, self.c_dim = nz, None
        self.projection = nn.Sequential(nn.Linear(self.text_dim, nt), nn.LeakyReLU(0.2, inplace=True))
        self.netG = generator_layers(nz, nt, ngf)
        init_weights(self.netG)

    def generator_parameters(self) -> list[nn.Parameter]:
        """What training updates (the text encoder is frozen)."""
        return [*self.projection.parameters(), *self.netG.parameters()]

    def forward(self, z: torch.Tensor, sentence: torch.Tensor) -> torch.Tensor:
        """Images (n, 3, 64, 64) in [-1, 1] from noise (n, nz) and sentence embeddings (n, text_dim)."""
        code = torch.cat((z, self.projection(sentence)), 1)
        return self.netG(code[:, :, None, None])

    def generate(self, noise: torch.Tensor, text: TextFeatures, eps: torch.Tensor | None = None,
                 attention: bool = False) -> GeneratorOutput:
        return GeneratorOutput(images=[self(noise.to(self.device), text.sentence.to(self.device))])

    def make_discriminator(self) -> MatchingDiscriminator:
        return MatchingDiscriminator(self.text_dim, self.nt, self.ndf)
