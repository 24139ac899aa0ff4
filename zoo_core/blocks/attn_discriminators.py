"""The discriminators of the attentional text-to-image families (AttnGAN, MirrorGAN):
``D_NET64`` / ``D_NET128`` / ``D_NET256`` (and a ``D_NET32`` for the small shapes configs) with
conditional and unconditional logits, as in taoxugit/AttnGAN code/model.py, and their losses.

Training state, not published. Each encodes its image to 8ndf x 4 x 4 (``forward``) and scores
it with ``COND_DNET`` (joined with the sentence feature) and ``UNCOND_DNET``. They return
logits (no sigmoid); the losses use BCE-with-logits, which equals the originals' BCELoss on
sigmoid outputs. ``discriminator_loss`` / ``generator_adversarial_loss`` are the originals'
losses (miscc/losses.py): D sees (real, right text), (fake, right text), (real, wrong text) and
the unconditional real/fake pair; G gets cond + uncond terms at every stage."""
from __future__ import annotations

from typing import ClassVar, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .attn_stages import weights_init
from .aux_attributes import AttributeHead, attribute_loss
from .downblocks import Block3x3_leakRelu, D_GET_LOGITS, downBlock, encode_image_by_16times
from .soften import soften, softens

class _DNet(nn.Module):
    """Common part: the conditional and unconditional heads on an 8ndf x 4 x 4 code."""

    image_size: ClassVar[int] = 64

    def _heads(self, ndf: int, nef: int, b_jcu: bool) -> None:
        self.df_dim, self.ef_dim = ndf, nef
        self.UNCOND_DNET = D_GET_LOGITS(ndf, nef, bcondition=False, sigmoid=False) if b_jcu else None
        self.COND_DNET = D_GET_LOGITS(ndf, nef, bcondition=True, sigmoid=False)


class D_NET32(_DNet):
    """32x32 images (the small configs' first stage): three 4x4 stride-2 convs to 4ndf x 4 x 4
    (``img_code_s8``, as ``encode_image_by_16times`` without its last layer), then a 3x3 conv
    to 8ndf (``img_code_s8_1``)."""

    image_size = 32

    def __init__(self, ndf: int = 64, nef: int = 256, b_jcu: bool = True) -> None:
        super().__init__()
        self.img_code_s8 = encode_image_by_16times(ndf)[:-3]  # drop the fourth down-sampling
        self.img_code_s8_1 = Block3x3_leakRelu(ndf * 4, ndf * 8)
        self._heads(ndf, nef, b_jcu)

    def forward(self, x_var: torch.Tensor) -> torch.Tensor:
        return self.img_code_s8_1(self.img_code_s8(x_var))


class D_NET64(_DNet):
    image_size = 64

    def __init__(self, ndf: int = 64, nef: int = 256, b_jcu: bool = True) -> None:
        super().__init__()
        self.img_code_s16 = encode_image_by_16times(ndf)
        self._heads(ndf, nef, b_jcu)

    def forward(self, x_var: torch.Tensor) -> torch.Tensor:
        return self.img_code_s16(x_var)


class D_NET128(_DNet):
    image_size = 128

    def __init__(self, ndf: int = 64, nef: int = 256, b_jcu: bool = True) -> None:
        super().__init__()
        self.img_code_s16 = encode_image_by_16times(ndf)
        self.img_code_s32 = downBlock(ndf * 8, ndf * 16)
        self.img_code_s32_1 = Block3x3_leakRelu(ndf * 16, ndf * 8)
        self._heads(ndf, nef, b_jcu)

    def forward(self, x_var: torch.Tensor) -> torch.Tensor:
        return self.img_code_s32_1(self.img_code_s32(self.img_code_s16(x_var)))


class D_NET256(_DNet):
    image_size = 256

    def __init__(self, ndf: int = 64, nef: int = 256, b_jcu: bool = True) -> None:
        super().__init__()
        self.img_code_s16 = encode_image_by_16times(ndf)
        self.img_code_s32 = downBlock(ndf * 8, ndf * 16)
        self.img_code_s64 = downBlock(ndf * 16, ndf * 32)
        self.img_code_s64_1 = Block3x3_leakRelu(ndf * 32, ndf * 16)
        self.img_code_s64_2 = Block3x3_leakRelu(ndf * 16, ndf * 8)
        self._heads(ndf, nef, b_jcu)

    def forward(self, x_var: torch.Tensor) -> torch.Tensor:
        x = self.img_code_s64(self.img_code_s32(self.img_code_s16(x_var)))
        return self.img_code_s64_2(self.img_code_s64_1(x))


D_NETS = {32: D_NET32, 64: D_NET64, 128: D_NET128, 256: D_NET256}


def make_discriminator(image_size: int, ndf: int, nef: int, b_jcu: bool = True) -> _DNet:
    """The discriminator for one stage's image size (weights initialised as the originals')."""
    if image_size not in D_NETS:
        raise ValueError(f"no discriminator for {image_size}x{image_size} images (have {sorted(D_NETS)})")
    net = D_NETS[image_size](ndf, nef, b_jcu)
    weights_init(net)
    return net


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def discriminator_loss(netD: _DNet, real: torch.Tensor, fake: torch.Tensor, sent: torch.Tensor,
                       twin_sent: torch.Tensor | None = None,
                       aux: tuple[AttributeHead, torch.Tensor, float] | None = None,
                       aux_soften: bool = False) -> tuple[torch.Tensor, dict[str, float]]:
    """The originals' ``discriminator_loss``: matched real pairs are real; fakes and
    mismatched pairs (real image i with the caption of i + 1) are fake.

    ``twin_sent`` (a deviation, off in the papers' recipes): the sentence features of each real
    image's shape twin caption (its scene with one shape changed). Those pairs are mismatched
    too and share the mismatch term's weight with the random ones, so the conditional logit has
    to read shapes, which random captions (differing mostly in colour) rarely demand.

    ``aux`` = (head, labels, weight) (a deviation, off in the papers' recipes): also
    ``weight`` x the head's attribute cross-entropy on the real images (``aux_attributes``);
    with ``aux_soften`` and images of 64x64 or more the head reads them softened (``blocks.soften``)."""
    real_f, fake_f = netD(real), netD(fake.detach())
    cond_real = netD.COND_DNET(real_f, sent)
    cond_fake = netD.COND_DNET(fake_f, sent)
    b = real_f.size(0)
    cond_wrong = netD.COND_DNET(real_f[: b - 1], sent[1:b])
    err_cr, err_cf, err_cw = _bce(cond_real, 1.0), _bce(cond_fake, 0.0), _bce(cond_wrong, 0.0)
    twin_stats = {}
    if twin_sent is not None:
        cond_twin = netD.COND_DNET(real_f, twin_sent)
        err_cw = (err_cw + _bce(cond_twin, 0.0)) / 2.0
        twin_stats["d_twin"] = float(torch.sigmoid(cond_twin.detach()).mean())
    if netD.UNCOND_DNET is not None:
        err_r, err_f = _bce(netD.UNCOND_DNET(real_f), 1.0), _bce(netD.UNCOND_DNET(fake_f), 0.0)
        loss = (err_r + err_cr) / 2.0 + (err_f + err_cf + err_cw) / 3.0
    else:
        loss = err_cr + (err_cf + err_cw) / 2.0
    if aux is not None:
        head, labels, weight = aux
        code = netD(soften(real)) if aux_soften and softens(real.shape[-1]) else real_f
        err_aux, shape_hits = attribute_loss(head, code, labels)
        loss = loss + weight * err_aux
        twin_stats["d_aux_shape"] = shape_hits
    stats = {"d_real": float(torch.sigmoid(cond_real.detach()).mean()),
             "d_fake": float(torch.sigmoid(cond_fake.detach()).mean()),
             "d_wrong": float(torch.sigmoid(cond_wrong.detach()).mean()), **twin_stats}
    return loss, stats


def generator_adversarial_loss(netsD: Sequence[_DNet], fakes: Sequence[torch.Tensor], sent: torch.Tensor,
                               aux: tuple[Sequence[AttributeHead], torch.Tensor, float] | None = None,
                               aux_soften: bool = False) -> torch.Tensor:
    """Sum over stages of the non-saturating cond + uncond generator losses; ``aux`` =
    (one head per stage, the captions' attribute labels, weight) adds weight x each head's
    attribute cross-entropy on the fakes (a deviation, off in the papers' recipes), read from
    the fakes softened where ``aux_soften`` (stages of 64x64 or more), so that detail finer
    than two pixels cannot satisfy the heads."""
    total = fakes[0].new_zeros(())
    for i, (netD, fake) in enumerate(zip(netsD, fakes)):
        feat = netD(fake)
        total = total + _bce(netD.COND_DNET(feat, sent), 1.0)
        if netD.UNCOND_DNET is not None:
            total = total + _bce(netD.UNCOND_DNET(feat), 1.0)
        if aux is not None:
            heads, labels, weight = aux
            code = netD(soften(fake)) if aux_soften and softens(fake.shape[-1]) else feat
            total = total + weight * attribute_loss(heads[i], code, labels)[0]
    return total


