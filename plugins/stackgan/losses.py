"""StackGAN's losses (hanzhanggit/StackGAN-Pytorch code/miscc/utils.py,
compute_discriminator_loss and compute_generator_loss), on logits, with the deviations the
trainer may ask for (twin captions as mismatched pairs, attribute heads)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from zoo_core.blocks.aux_attributes import AttributeHead, attribute_loss

from .model import STAGE1_D


def discriminator_loss(disc: STAGE1_D, real: torch.Tensor, fake: torch.Tensor, mu: torch.Tensor,
                       twin_mu: torch.Tensor | None = None,
                       aux: tuple[AttributeHead, torch.Tensor, float] | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """The original's compute_discriminator_loss on logits (real, wrong and fake pairs).

    ``twin_mu`` (a deviation, off in the paper's recipe): the CA means of each real image's twin
    caption (its scene with one thing changed). Those pairs are mismatched too; the wrong term
    becomes the mean of the two wrong terms, so its weight stays the original's. ``aux`` = (head,
    the real images' attribute labels, weight) (a deviation too): adds weight x the head's
    attribute cross-entropy on the real image code (``blocks.aux_attributes``)."""
    cond = mu.detach()
    real_f, fake_f = disc(real), disc(fake.detach())
    s_real = disc.get_cond_logits(real_f, cond)
    s_wrong = disc.get_cond_logits(real_f[:-1], cond[1:])  # each image with the next one's condition
    s_fake = disc.get_cond_logits(fake_f, cond)
    bce = F.binary_cross_entropy_with_logits
    err_real = bce(s_real, torch.ones_like(s_real))
    err_wrong = bce(s_wrong, torch.zeros_like(s_wrong))
    twin_stats = {}
    if twin_mu is not None:
        s_twin = disc.get_cond_logits(real_f, twin_mu.detach())
        err_wrong = (err_wrong + bce(s_twin, torch.zeros_like(s_twin))) / 2
        twin_stats["d_twin"] = torch.sigmoid(s_twin).mean().item()
    err_fake = bce(s_fake, torch.zeros_like(s_fake))
    if disc.get_uncond_logits is not None:
        u_real, u_fake = disc.get_uncond_logits(real_f), disc.get_uncond_logits(fake_f)
        err_real = (err_real + bce(u_real, torch.ones_like(u_real))) / 2
        err_fake = (err_fake + bce(u_fake, torch.zeros_like(u_fake))) / 2
    loss = err_real + (err_fake + err_wrong) * 0.5
    if aux is not None:
        err_aux, twin_stats["d_aux_shape"] = attribute_loss(aux[0], real_f, aux[1])
        loss = loss + aux[2] * err_aux
    stats = {"d_real": torch.sigmoid(s_real).mean().item(), "d_wrong": torch.sigmoid(s_wrong).mean().item(),
             "d_fake": torch.sigmoid(s_fake).mean().item(), **twin_stats}
    return loss, stats


def generator_loss(disc: STAGE1_D, fake: torch.Tensor, mu: torch.Tensor,
                   aux: tuple[AttributeHead, torch.Tensor, float] | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """The original's compute_generator_loss (before the KL term), and its statistics. ``aux`` =
    (head, the captions' attribute labels, weight) (a deviation): adds weight x the head's
    attribute cross-entropy on the generated images."""
    bce = F.binary_cross_entropy_with_logits
    fake_f = disc(fake)
    s = disc.get_cond_logits(fake_f, mu.detach())
    loss = bce(s, torch.ones_like(s))
    if disc.get_uncond_logits is not None:
        u = disc.get_uncond_logits(fake_f)
        loss = loss + bce(u, torch.ones_like(u))
    stats = {}
    if aux is not None:
        err_aux, stats["g_aux_shape"] = attribute_loss(aux[0], fake_f, aux[1])
        loss = loss + aux[2] * err_aux
    return loss, stats
