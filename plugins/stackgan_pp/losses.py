"""StackGAN++'s losses (hanzhanggit/StackGAN-v2 code/trainer.py, condGANTrainer): each
branch's discriminator loss (conditional and unconditional) and the generator tree's joint loss
with colour consistency and the CA KL term."""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo_core.blocks.aux_attributes import AttributeHead, attribute_loss
from zoo_core.blocks.conditioning import kl_loss

from .model import color_consistency


def discriminator_loss(d: nn.Module, real: torch.Tensor, wrong: torch.Tensor, fake: torch.Tensor,
                       mu: torch.Tensor, uncond: float = 1.0,
                       twin_mu: torch.Tensor | None = None,
                       aux: tuple[AttributeHead, torch.Tensor, float] | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """The original's errD for one scale (logit discriminators; BCE with logits).

    ``twin_mu`` (a deviation, off in the paper's recipe): the CA means of each real image's twin
    caption (its scene with one thing changed), a mismatched pair too; the conditional wrong term
    becomes the mean of the two, so its weight stays the original's. ``aux`` = (head, the real
    images' attribute labels, weight) (a deviation too): adds weight x the head's attribute
    cross-entropy on the real image code (``blocks.aux_attributes``)."""
    bce = F.binary_cross_entropy_with_logits
    real_code = d.encode(real)  # scored with the right caption, and with the twin's
    r, w, f = d.scores(real_code, mu), d(wrong, mu), d(fake, mu)
    one, zero = torch.ones_like(r[0]), torch.zeros_like(r[0])
    err_wrong = bce(w[0], zero)
    stats = {}
    if twin_mu is not None:
        t = d.scores(real_code, twin_mu)[0]
        err_wrong = (err_wrong + bce(t, torch.zeros_like(t))) / 2
        stats["d_twin"] = torch.sigmoid(t).mean().item()
    loss = bce(r[0], one) + err_wrong + bce(f[0], zero)
    if uncond > 0:
        loss = loss + uncond * (bce(r[1], one) + bce(w[1], one) + bce(f[1], zero))
    if aux is not None:
        err_aux, stats["d_aux_shape"] = attribute_loss(aux[0], real_code, aux[1])
        loss = loss + aux[2] * err_aux
    stats = {"d_real": torch.sigmoid(r[0]).mean().item(), "d_wrong": torch.sigmoid(w[0]).mean().item(),
             "d_fake": torch.sigmoid(f[0]).mean().item(), **stats}
    return loss, stats


def generator_loss(discs: nn.ModuleList, fakes: list[torch.Tensor], mu: torch.Tensor, logvar: torch.Tensor,
                   hp: dict[str, Any], aux: tuple[list[AttributeHead], torch.Tensor, float] | None = None
                   ) -> tuple[torch.Tensor, dict[str, float]]:
    """The original's errG_total: joint adversarial terms of every branch, colour consistency
    between consecutive branches, and the CA KL term. ``aux`` = (one head per branch, the
    captions' attribute labels, weight) (a deviation): adds weight x each head's attribute
    cross-entropy on the generated images."""
    bce = F.binary_cross_entropy_with_logits
    adv, aux_total, stats = mu.new_zeros(()), mu.new_zeros(()), {}
    for i, (d, fake) in enumerate(zip(discs, fakes)):
        code = d.encode(fake)
        out = d.scores(code, mu)
        adv = adv + bce(out[0], torch.ones_like(out[0]))
        if hp["uncond"] > 0:
            adv = adv + hp["uncond"] * bce(out[1], torch.ones_like(out[1]))
        if aux is not None:
            err, stats["g_aux_shape"] = attribute_loss(aux[0][i], code, aux[1])  # the last branch's is kept
            aux_total = aux_total + aux[2] * err
    color = mu.new_zeros(())
    if hp["color"] > 0:
        for i in range(1, len(fakes)):
            color = color + hp["color"] * color_consistency(fakes[i], fakes[i - 1], hp["color_mu"], hp["color_cov"])
    kl = kl_loss(mu, logvar)
    total = adv + color + hp["kl"] * kl + aux_total
    return total, {"g_adv": adv.item(), "color": color.item(), "kl": kl.item(), **stats}
