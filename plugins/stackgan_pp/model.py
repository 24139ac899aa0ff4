"""The StackGAN++ generator tree (the published model) and its discriminators (training state).

Layout and names as in hanzhanggit/StackGAN-v2 code/model.py, so an original ``netG`` state
dict maps key for key (``ca_net.fc``, ``h_net1.fc`` / ``upsample1..4``, ``h_net2.jointConv`` /
``residual.k`` / ``upsample``, ``img_net1..3.img``):

- ``ca_net`` (CA_NET, GLU variant): sentence embedding (times ``text_scale``, 1 in the original)
  -> c = mu + sigma * eps;
- ``h_net1`` (INIT_STAGE_G, width 16 * gf_dim at 4x4): cat(c, z) -> fc -> up-sampling blocks to
  the base size (four in the original, 4 -> 64; a 16x16 base keeps the first two);
- ``h_net2``, ``h_net3`` (NEXT_STAGE_G): the condition tiled over the map and concatenated
  *before* the features, a joint conv3x3 (BN, GLU), ``r_num`` residual blocks, an up-sampling
  block halving the width and doubling the side;
- ``img_net1..3`` (GET_IMAGE_G): conv3x3 to RGB and tanh, one image per branch.

The discriminators ``DNet`` (the original's D_NET64 / D_NET128 / D_NET256 for 64 / 128 / 256)
encode the image to 8 * df_dim x 4 x 4, and give two scores: ``logits`` on the joint code
(cat(c, x_code) fused by ``jointConv``; the condition is the CA mean mu) and ``uncond_logits`` on
the image code alone. Smaller scales (16 / 32, SMALL config; not in the original) keep the first
two / three strided convolutions and widen to 8 * df_dim with a Block3x3_leakRelu.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from zoo_core.blocks.conditioning import CANet
from zoo_core.blocks.downblocks import Block3x3_leakRelu, downBlock, encode_image_by_16times
from zoo_core.blocks.text_to_image import GeneratorOutput, TextFeatures, TextToImageModel
from zoo_core.blocks.upblocks import Block3x3_relu, GetImageG, InitStageG, ResBlock, upBlock
from zoo_core.errors import BadInputError


def _log2_steps(size: int, base: int, what: str) -> int:
    k = math.log2(size / base) if size >= base else -1
    if k < 0 or k != int(k):
        raise ValueError(f"{what} must be a power of two >= {base}, got {size}")
    return int(k)


class InitStage(InitStageG):
    """INIT_STAGE_G up to ``base_size``: the original's four up-samplings (4 -> 64) or fewer.

    Dropped blocks become identities (no parameters), so the kept keys are the original's."""

    def __init__(self, ngf: int, in_dim: int, base_size: int = 64) -> None:
        k = _log2_steps(base_size, 4, "base_size")
        if not 1 <= k <= 4:
            raise ValueError(f"base_size must be 8, 16, 32 or 64, got {base_size}")
        super().__init__(ngf, in_dim, activation="glu", condition_first=True)
        for i in range(k + 1, 5):
            setattr(self, f"upsample{i}", nn.Identity())
        self.out_dim = ngf // 2 ** k


class NEXT_STAGE_G(nn.Module):
    """A branch: joint conv with the tiled condition, residual blocks, x2 up-sampling."""

    def __init__(self, ngf: int, ef_dim: int, num_residual: int = 2) -> None:
        super().__init__()
        self.gf_dim, self.ef_dim, self.num_residual = ngf, ef_dim, num_residual
        self.jointConv = Block3x3_relu(ngf + ef_dim, ngf)
        self.residual = nn.Sequential(*[ResBlock(ngf) for _ in range(num_residual)])
        self.upsample = upBlock(ngf, ngf // 2)

    def forward(self, h_code: torch.Tensor, c_code: torch.Tensor) -> torch.Tensor:
        c = c_code.view(-1, self.ef_dim, 1, 1).expand(-1, -1, h_code.size(2), h_code.size(3))
        out = self.jointConv(torch.cat((c, h_code), 1))  # condition first, as the original
        return self.upsample(self.residual(out))


class StackGANpp(TextToImageModel):
    """The generator tree G_NET (plus the frozen text encoder that feeds it)."""

    family = "stackgan-pp"
    card_notes = (
        "The repo holds the generator tree (and the frozen DAMSM text encoder whose sentence "
        "features condition it); the three discriminators are training state. `--stage 0/1/2` "
        "returns the first / second / last branch's image (coarse to fine); the default is the "
        "last. Samples are in [-1, 1]. Batch norm runs in eval mode with statistics recomputed for "
        "the averaged weights after training, so a sample never depends on the rest of its batch. "
        "StackGAN++ has no word attention (`--attention` is refused) and no tractable likelihood.")

    def __init__(self, vocab: list[str] | None = None, text_encoder: str | dict[str, Any] | None = "small",
                 max_words: int = 18, text_dim: int | None = None, z_dim: int = 100, c_dim: int = 128,
                 gf_dim: int = 64, df_dim: int = 64, r_num: int = 2, branch_num: int = 3,
                 base_size: int = 64, text_scale: float = 1.0) -> None:
        super().__init__()
        # a fixed factor on the sentence embedding before CA_NET (1 in the original, whose
        # char-CNN-RNN embeddings are large; the DAMSM shapes features have an RMS near 0.08,
        # which would leave the text a few percent of the CA noise, so the trainer sets
        # 1 / RMS of the training captions' features)
        self.text_scale = float(text_scale)
        self.init_text(vocab, text_encoder, max_words, text_dim)
        if text_encoder is not None and text_dim is not None and text_dim != self.text_dim:
            raise ValueError(f"text_dim {text_dim} does not match the text encoder's nef {self.text_dim}")
        if not 1 <= branch_num <= 3:
            raise ValueError(f"branch_num must be 1, 2 or 3, got {branch_num}")
        self.z_dim, self.c_dim, self.gf_dim, self.df_dim = z_dim, c_dim, gf_dim, df_dim
        self.branch_num, self.base_size = branch_num, base_size
        self.ca_net = CANet(self.text_dim, c_dim, glu=True)
        self.h_net1 = InitStage(gf_dim * 16, z_dim + c_dim, base_size)
        width = self.h_net1.out_dim
        self.img_net1 = GetImageG(width)
        for b in range(2, branch_num + 1):
            if width < 2:
                raise ValueError(f"gf_dim {gf_dim} is too narrow for {branch_num} branches from base {base_size}")
            setattr(self, f"h_net{b}", NEXT_STAGE_G(width, c_dim, r_num))
            width //= 2
            setattr(self, f"img_net{b}", GetImageG(width))

    @property
    def image_sizes(self) -> list[int]:
        return [self.base_size * 2 ** i for i in range(self.branch_num)]

    def forward(self, z_code: torch.Tensor, text_embedding: torch.Tensor,
                eps: torch.Tensor | None = None) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """G_NET.forward: (one image per branch, coarse to fine, in [-1, 1]), mu, logvar.
        ``eps`` (n, c_dim) is the CA noise; None draws it from torch's global RNG."""
        if self.text_scale != 1.0:
            text_embedding = text_embedding * self.text_scale
        c_code, mu, logvar = self.ca_net(text_embedding, eps)
        images = []
        h_code = self.h_net1(z_code, c_code)
        images.append(self.img_net1(h_code))
        for b in range(2, self.branch_num + 1):
            h_code = getattr(self, f"h_net{b}")(h_code, c_code)
            images.append(getattr(self, f"img_net{b}")(h_code))
        return images, mu, logvar

    def condition_mean(self, sentence: torch.Tensor) -> torch.Tensor:
        """The CA mean mu of a sentence embedding (the discriminators' condition)."""
        return self.ca_net.encode(sentence * self.text_scale)[0]

    def generate(self, noise: torch.Tensor, text: TextFeatures, eps: torch.Tensor | None = None,
                 attention: bool = False) -> GeneratorOutput:
        sentence = text.sentence
        if sentence.dim() != 2 or sentence.shape[1] != self.text_dim:
            raise BadInputError(f"sentence embeddings of shape {tuple(sentence.shape)}; this model needs "
                                f"(n, {self.text_dim})")
        noise = noise.to(self.device, sentence.dtype)
        eps = None if eps is None else eps.to(self.device, sentence.dtype)
        images, mu, logvar = self(noise, sentence.to(self.device), eps)
        return GeneratorOutput(images=images, mu=mu, logvar=logvar, attention=None)

    def generator_parameters(self) -> list[nn.Parameter]:
        """Trainable parameters: everything but the frozen text encoder (the original G_NET)."""
        skip = {id(p) for p in self.text_encoder.parameters()} if self.text_encoder is not None else set()
        return [p for p in self.parameters() if id(p) not in skip]

    def num_generator_parameters(self) -> int:
        return sum(p.numel() for p in self.generator_parameters())

    def make_discriminators(self, sigmoid: bool = False) -> nn.ModuleList:
        """One discriminator per branch (D_NET64 / 128 / 256 for the paper's sizes)."""
        return nn.ModuleList(DNet(s, self.df_dim, self.c_dim, sigmoid=sigmoid) for s in self.image_sizes)


class DNet(nn.Module):
    """D_NET<image_size>: (conditional score, unconditional score) per image.

    ``sigmoid=True`` gives the original's probabilities (it trained with BCELoss); the trainer
    here uses logits (BCE with logits, the same objective, numerically safer). Key names do
    not change."""

    def __init__(self, image_size: int, ndf: int, efg: int, bcondition: bool = True, sigmoid: bool = False) -> None:
        super().__init__()
        self.image_size, self.df_dim, self.ef_dim, self.bcondition = image_size, ndf, efg, bcondition
        k = _log2_steps(image_size, 4, "image_size")  # stride-2 steps down to 4x4
        if k > 6:
            raise ValueError(f"image sizes up to 256 are supported, got {image_size}")
        if k >= 4:
            self.img_code_s16 = encode_image_by_16times(ndf)
        else:  # 8, 16 or 32: the first k strided convolutions of encode_image_by_16times
            self.img_code_s16 = encode_image_by_16times(ndf)[: 2 + 3 * (k - 1)]
            self.img_code_s4_1 = Block3x3_leakRelu(ndf * 2 ** (k - 1), ndf * 8)
        if k >= 5:
            self.img_code_s32 = downBlock(ndf * 8, ndf * 16)
        if k == 5:
            self.img_code_s32_1 = Block3x3_leakRelu(ndf * 16, ndf * 8)
        if k == 6:
            self.img_code_s64 = downBlock(ndf * 16, ndf * 32)
            self.img_code_s64_1 = Block3x3_leakRelu(ndf * 32, ndf * 16)
            self.img_code_s64_2 = Block3x3_leakRelu(ndf * 16, ndf * 8)
        head = [nn.Sigmoid()] if sigmoid else []
        self.logits = nn.Sequential(nn.Conv2d(ndf * 8, 1, kernel_size=4, stride=4), *head)
        if bcondition:
            self.jointConv = Block3x3_leakRelu(ndf * 8 + efg, ndf * 8)
            self.uncond_logits = nn.Sequential(nn.Conv2d(ndf * 8, 1, kernel_size=4, stride=4), *head)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The image code, 8 * df_dim x 4 x 4."""
        if x.shape[-1] != self.image_size:
            raise ValueError(f"D_NET{self.image_size} got a {x.shape[-1]}x{x.shape[-2]} image")
        h = self.img_code_s16(x)
        for name in ("img_code_s4_1", "img_code_s32", "img_code_s32_1", "img_code_s64",
                     "img_code_s64_1", "img_code_s64_2"):
            if hasattr(self, name):
                h = getattr(self, name)(h)
        return h

    def forward(self, x: torch.Tensor, c_code: torch.Tensor | None = None) -> list[torch.Tensor]:
        return self.scores(self.encode(x), c_code)

    def scores(self, x_code: torch.Tensor, c_code: torch.Tensor | None = None) -> list[torch.Tensor]:
        """[conditional, unconditional] logits of an image code from ``encode`` (one code can be
        scored against several conditions)."""
        if self.bcondition and c_code is not None:
            c = c_code.view(-1, self.ef_dim, 1, 1).expand(-1, -1, 4, 4)
            h_c_code = self.jointConv(torch.cat((c, x_code), 1))
        else:
            h_c_code = x_code
        out = [self.logits(h_c_code).view(-1)]
        if self.bcondition:
            out.append(self.uncond_logits(x_code).view(-1))
        return out


def D_NET64(ndf: int = 64, efg: int = 128, **kw: Any) -> DNet:
    return DNet(64, ndf, efg, **kw)


def D_NET128(ndf: int = 64, efg: int = 128, **kw: Any) -> DNet:
    return DNet(128, ndf, efg, **kw)


def D_NET256(ndf: int = 64, efg: int = 128, **kw: Any) -> DNet:
    return DNet(256, ndf, efg, **kw)


# -- the colour-consistency regulariser (paper section 4.3) -----------------------------------
def compute_mean_covariance(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image: the mean pixel mu (n, C, 1, 1) and the C x C pixel covariance (n, C, C),
    averaged over the H * W pixels (the original's ``compute_mean_covariance``)."""
    n, c, h, w = img.shape
    mu = img.mean(dim=(2, 3), keepdim=True)
    centred = (img - mu).reshape(n, c, h * w)
    return mu, torch.bmm(centred, centred.transpose(1, 2)) / (h * w)


def color_consistency(fine: torch.Tensor, coarse: torch.Tensor, lambda_mu: float = 1.0,
                      lambda_cov: float = 5.0) -> torch.Tensor:
    """lambda_1 ||mu_fine - mu_coarse||^2 + lambda_2 ||Sigma_fine - Sigma_coarse||^2, each a mean
    of squares over the batch (MSE), with the coarser image detached (only the finer branch is
    pulled towards its parent's colours, as in the original trainer)."""
    mu1, cov1 = compute_mean_covariance(fine)
    mu2, cov2 = compute_mean_covariance(coarse.detach())
    return lambda_mu * (mu1 - mu2).pow(2).mean() + lambda_cov * (cov1 - cov2).pow(2).mean()


def weights_init(m: nn.Module) -> None:
    """The original's initialisation: orthogonal conv / linear weights, BN scales N(1, 0.02)."""
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.orthogonal_(m.weight.data, 1.0)
        if m.bias is not None:
            m.bias.data.fill_(0.0)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        m.weight.data.normal_(1.0, 0.02)
        m.bias.data.fill_(0)
