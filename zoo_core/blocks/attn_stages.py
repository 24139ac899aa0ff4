"""The attentional multi-stage generator shared by AttnGAN and MirrorGAN.

AttnGAN (Xu et al. 2018; taoxugit/AttnGAN code/model.py) and MirrorGAN (Qiao et al. 2019;
qiaott/MirrorGAN model.py) share one generator layout, ``G_NET``:

    sentence e --CA_NET--> c;  h1 = INIT_STAGE_G(z, c);           x1 = GET_IMAGE_G(h1)
    h_i = NEXT_STAGE_G(h_{i-1}, c, words, mask) (i = 2, 3);         x_i = GET_IMAGE_G(h_i)

``NEXT_STAGE_G`` lets every region of h_{i-1} attend over the words (``att``), concatenates
the word context with the regions, runs ``R_NUM`` residual blocks (``residual``) and doubles
the resolution (``upsample``). MirrorGAN's GLAM variant (``sentence_attention=True``) uses
``GLAttentionGeneral`` (word attention plus a sentence attention driven by c) and fuses
[regions, word context, sentence context] with a 1x1 conv (``conv``, 3 ngf -> 2 ngf) before
the residual blocks. Everything else is identical, so both families build it from here.

``AttentionalT2I`` is the zoo model both plugins subclass: the generator's modules sit on the
model itself under the originals' names (``ca_net``, ``h_net1``, ``img_net1``, ``h_net2``,
...), next to the frozen DAMSM ``text_encoder``, so an original ``netG.pth`` loads key for key.

The discriminators are in ``attn_discriminators``, the shared training loop and helpers in
``attn_training``.

One extension beyond the originals: ``init_size`` picks the first stage's resolution. The
originals' first stage is always 64x64 (4x4 and four ``upBlock``s); the zoo's small shapes
configs start at 32x32 (three ``upBlock``s, ``upsample4`` absent) so that two stages end at
64x64.
"""
from __future__ import annotations

import math
import re
from typing import Any, ClassVar, Iterable, Mapping

import torch
from torch import nn

from ..errors import BadInputError
from .attention import GLAttentionGeneral, GlobalAttentionGeneral
from .conditioning import CANet
from .text_to_image import GeneratorOutput, TextFeatures, TextToImageModel
from .upblocks import GetImageG, InitStageG, ResBlock, conv1x1, upBlock

__all__ = ["InitStage", "NEXT_STAGE_G", "NextStageG", "AttentionalT2I", "weights_init", "stage_sizes"]


_RESIDUAL = re.compile(r"^(h_net\d+\.residual\.\d+)\.")


# -- generator ------------------------------------------------------------------------------
class InitStage(InitStageG):
    """``INIT_STAGE_G`` with ``upsamplings`` upBlocks (4, the original: 4x4 -> 64x64; 3 gives
    32x32, 2 gives 16x16). ``ngf`` is the width at 4x4; the output has ngf / 2^upsamplings."""

    def __init__(self, ngf: int, in_dim: int, upsamplings: int = 4) -> None:
        super().__init__(ngf, in_dim)
        if not 1 <= upsamplings <= 4:
            raise ValueError(f"upsamplings must be 1..4, got {upsamplings}")
        self.upsamplings = upsamplings
        for k in range(upsamplings + 1, 5):
            delattr(self, f"upsample{k}")

    def forward(self, z_code: torch.Tensor, c_code: torch.Tensor | None = None) -> torch.Tensor:
        x = z_code if c_code is None else torch.cat((c_code, z_code), 1)
        h = self.fc(x).view(-1, self.gf_dim, 4, 4)
        for k in range(1, self.upsamplings + 1):
            h = getattr(self, f"upsample{k}")(h)
        return h


class NextStageG(nn.Module):
    """``NEXT_STAGE_G(ngf, nef, ncf)``: word attention, residual blocks, x2 upsampling.

    ``sentence_attention=True`` is MirrorGAN's GLAM stage (``GLAttentionGeneral`` with the
    CA code c as its sentence input, and ``conv`` fusing the three feature maps).
    """

    def __init__(self, ngf: int, nef: int, ncf: int, r_num: int = 2, sentence_attention: bool = False) -> None:
        super().__init__()
        self.gf_dim, self.ef_dim, self.cf_dim, self.num_residual = ngf, nef, ncf, r_num
        self.sentence_attention = sentence_attention
        self.att = GLAttentionGeneral(ngf, nef, ncf) if sentence_attention else GlobalAttentionGeneral(ngf, nef)
        self.residual = nn.Sequential(*[ResBlock(ngf * 2) for _ in range(r_num)])
        self.upsample = upBlock(ngf * 2, ngf)
        if sentence_attention:
            self.conv = conv1x1(ngf * 3, ngf * 2)

    def forward(self, h_code: torch.Tensor, c_code: torch.Tensor, word_embs: torch.Tensor,
                mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """h_code (n, ngf, h, w), c_code (n, ncf), word_embs (n, nef, T), mask (n, T) ->
        (features (n, ngf, 2h, 2w), word attention (n, T, h, w))."""
        if self.sentence_attention:
            word_ctx, sent_ctx, att, _ = self.att(h_code, c_code, word_embs, mask)
            h_c_code = self.conv(torch.cat((h_code, word_ctx, sent_ctx), 1))
        else:
            word_ctx, att = self.att(h_code, word_embs, mask)
            h_c_code = torch.cat((h_code, word_ctx), 1)
        return self.upsample(self.residual(h_c_code)), att


NEXT_STAGE_G = NextStageG


def weights_init(module: nn.Module) -> None:
    """The originals' ``weights_init``: orthogonal convs and linears, BN scales from N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.BatchNorm1d)) and m.weight.is_meta:
            continue  # built on the meta device (counting parameters): nothing to initialise
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.orthogonal_(m.weight, 1.0)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def stage_sizes(init_size: int, branch_num: int) -> list[int]:
    """Image size of every stage, coarse to fine."""
    return [init_size * 2 ** i for i in range(branch_num)]


class AttentionalT2I(TextToImageModel):
    """The G_NET of AttnGAN / MirrorGAN as a zoo text-to-image model.

    Keyword arguments (config.json): ``vocab``, ``text_encoder``, ``max_words`` (the text side,
    see TextToImageModel); ``z_dim`` (cfg.GAN.Z_DIM), ``ncf`` (cfg.GAN.CONDITION_DIM, the CA
    size), ``ngf`` (cfg.GAN.GF_DIM: every stage's feature width), ``branch_num``
    (cfg.TREE.BRANCH_NUM), ``r_num`` (cfg.GAN.R_NUM), ``init_size`` (first stage's resolution:
    64 in the originals), ``ndf`` (cfg.GAN.DF_DIM, for the trainer's discriminators) and
    ``text_dim`` (only for a model without a text encoder).
    """

    sentence_attention: ClassVar[bool] = False

    def __init__(self, vocab: list[str] | None = None, text_encoder: str | dict[str, Any] | None = "small",
                 max_words: int = 18, z_dim: int = 100, ncf: int = 100, ngf: int = 32, branch_num: int = 3,
                 r_num: int = 2, init_size: int = 64, ndf: int = 64, text_dim: int | None = None,
                 text_scale: float = 1.0) -> None:
        super().__init__()
        self.init_text(vocab, text_encoder, max_words, text_dim)
        ups = math.log2(init_size / 4)
        if init_size < 8 or ups != int(ups) or ups > 4:
            raise ValueError(f"init_size must be 8, 16, 32 or 64, got {init_size}")
        if branch_num < 1:
            raise ValueError("branch_num must be at least 1")
        self.z_dim, self.c_dim = z_dim, ncf
        self.ngf, self.branch_num, self.r_num, self.init_size, self.ndf = ngf, branch_num, r_num, init_size, ndf
        self.text_scale = float(text_scale)
        nef = self.text_dim
        self.ca_net = CANet(nef, ncf, glu=True)
        self.h_net1 = InitStage(ngf * 2 ** int(ups), z_dim + ncf, int(ups))
        self.img_net1 = GetImageG(ngf)
        for i in range(2, branch_num + 1):
            setattr(self, f"h_net{i}", NextStageG(ngf, nef, ncf, r_num, self.sentence_attention))
            setattr(self, f"img_net{i}", GetImageG(ngf))
        weights_init(self.generator_modules())

    # -- structure --------------------------------------------------------------------------
    def generator_modules(self) -> nn.ModuleList:
        """The generator proper (G_NET), without the frozen text encoder."""
        names = ["ca_net"] + [f"{p}{i}" for i in range(1, self.branch_num + 1) for p in ("h_net", "img_net")]
        return nn.ModuleList([getattr(self, n) for n in names])

    def load_growing(self, state: Mapping[str, torch.Tensor]) -> list[str]:
        """Load a generator saved with fewer residual blocks per stage (a smaller ``r_num``). The
        blocks it lacks start as the identity (their last batch norm's scale zero), so the model
        draws exactly what the saved one drew. Returns the names of the blocks added."""
        own = self.state_dict()
        missing = set(own) - set(state)
        wrong = sorted(set(state) - set(own)) + sorted(k for k in missing if not _RESIDUAL.match(k))
        if wrong:
            raise ValueError(f"the saved generator does not fit this {self.family} (only residual blocks "
                             f"may be added): {', '.join(wrong[:5])}")
        self.load_state_dict(state, strict=False)
        return self.residual_blocks_as_identity(missing)

    def residual_blocks_as_identity(self, new_keys: Iterable[str]) -> list[str]:
        """Zero the last batch-norm scale of every residual block with a key in ``new_keys`` (blocks
        a loaded state lacked), so each passes its input through; returns their names."""
        added = sorted({m.group(1) for k in new_keys if (m := _RESIDUAL.match(k))})
        with torch.no_grad():
            for name in added:
                self.get_submodule(name).block[-1].weight.zero_()
        return added

    def generator_parameters(self) -> list[nn.Parameter]:
        return list(self.generator_modules().parameters())

    def num_generator_parameters(self) -> int:
        return sum(p.numel() for p in self.generator_parameters())

    @property
    def sizes(self) -> list[int]:
        return stage_sizes(self.init_size, self.branch_num)

    # -- the generator forward ----------------------------------------------------------------
    def generate(self, noise: torch.Tensor, text: TextFeatures, eps: torch.Tensor | None = None,
                 attention: bool = False) -> GeneratorOutput:
        if self.branch_num > 1 and text.words is None:
            raise BadInputError(f"{self.family} attends over words: it needs prompts and a text encoder, "
                                f"not sentence embeddings alone")
        dev = self.device
        k = self.text_scale
        sentence = text.sentence.to(dev) * k if k != 1 else text.sentence.to(dev)
        c_code, mu, logvar = self.ca_net(sentence, None if eps is None else eps.to(dev))
        mask = text.mask
        h = self.h_net1(noise.to(dev), c_code)
        images = [self.img_net1(h)]
        maps = []
        words = None if text.words is None else (text.words.to(dev) * k if k != 1 else text.words.to(dev))
        for i in range(2, self.branch_num + 1):
            h, att = getattr(self, f"h_net{i}")(h, c_code, words, mask)
            images.append(getattr(self, f"img_net{i}")(h))
            maps.append(att)
        return GeneratorOutput(images=images, mu=mu, logvar=logvar, attention=maps)


