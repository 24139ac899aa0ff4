"""Train a DCGAN as in the paper: alternating D and G steps, non-saturating G loss,
Adam(lr 2e-4, beta1 0.5), images scaled to [-1, 1].

``train(config, ...)`` returns ``(model, report)``: the generator as a `DCGAN` and a
JSON-serialisable report (recipe, wall time, per-epoch losses, final losses) that
scripts/train.py saves next to the weights and scripts/publish.py puts in the model card.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from zoo_core.errors import BadInputError
from zoo_core.training import EpochMeter, setup

from .config import TRAINING, TRAINING_FOR, get_config
from .model import DCGAN


def recalibrate_batchnorm(model: DCGAN, *, batches: int = 32, batch_size: int = 128,
                          generator: torch.Generator | None = None) -> None:
    """Re-estimate the generator's batch-norm statistics as exact averages over fresh z.

    Sampling runs in eval mode (so a sample never depends on the others in its batch); the
    running statistics left by training trail the generator's last few updates, so we
    recompute them for the final weights.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    saved = [m.momentum for m in bns]
    was_training = model.training
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(batch_size, model.nz, generator=generator, device="cpu").to(model.device))
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.train(was_training)


def train(config: str | dict[str, Any] = "small", *, epochs: int | None = None, seed: int = 0,
          data: torch.Tensor | None = None, batch_size: int | None = None,
          lr: float | None = None, max_steps: int | None = None, threads: int | None = 2,
          device: str = "cpu", log: Callable[[str], None] | None = print) -> tuple[DCGAN, dict[str, Any]]:
    """Train the generator (and a discriminator built from the same config) on `data`.

    ``data`` is (N, C, H, W) in [0, 1]; by default the digits train split at the config's size.
    ``max_steps`` stops early (tests).
    """
    cfg = get_config(config)
    hp = TRAINING_FOR.get(config, TRAINING) if isinstance(config, str) else TRAINING
    epochs = hp["epochs"] if epochs is None else epochs
    batch_size = batch_size or hp["batch_size"]
    lr = lr or hp["lr"]
    gen = setup(seed, threads)

    if data is None:
        from zoo_core.data.digits import load_digits

        data = load_digits("train", size=cfg["image_size"])
    if data.shape[1:] != (cfg["channels"], cfg["image_size"], cfg["image_size"]):
        raise BadInputError(f"data of shape {tuple(data.shape[1:])} does not fit config {cfg}")
    real_all = (data.float() * 2 - 1).to(device)  # [0, 1] -> [-1, 1], the tanh range

    model = DCGAN(**cfg).to(device)
    disc = model.make_discriminator().to(device)
    betas = (hp["beta1"], hp["beta2"])
    opt_g = torch.optim.Adam(model.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=lr, betas=betas)

    step = 0
    meter = EpochMeter("loss_d", "loss_g", "d_real", "d_fake", log=log,
                       line="loss_d {loss_d:.3f}  loss_g {loss_g:.3f}  D(x) {d_real:.2f}  D(G(z)) {d_fake:.2f}")
    model.train()
    disc.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(real_all), generator=gen)
        # full batches only (batch-norm statistics of a ragged last batch are noisy); a data set
        # smaller than one batch is used whole
        last_start = max(len(perm) - batch_size, 0)
        for i in range(0, last_start + 1, batch_size):
            real = real_all[perm[i:i + batch_size]]
            b = len(real)
            z = torch.randn(b, model.nz, generator=gen).to(device)
            fake = model(z)

            # D: maximise log D(x) + log(1 - D(G(z)))
            opt_d.zero_grad(set_to_none=True)
            logit_real = disc(real)
            logit_fake = disc(fake.detach())
            loss_d = (F.binary_cross_entropy_with_logits(logit_real, torch.ones_like(logit_real))
                      + F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake)))
            loss_d.backward()
            opt_d.step()

            # G: maximise log D(G(z)) (the non-saturating loss)
            opt_g.zero_grad(set_to_none=True)
            logit_gen = disc(fake)
            loss_g = F.binary_cross_entropy_with_logits(logit_gen, torch.ones_like(logit_gen))
            loss_g.backward()
            opt_g.step()

            meter.add(loss_d=loss_d.item(), loss_g=loss_g.item(),
                      d_real=torch.sigmoid(logit_real).mean().item(),
                      d_fake=torch.sigmoid(logit_fake).mean().item())
            step += 1
            if max_steps is not None and step >= max_steps:
                break
        meter.end_epoch(epoch + 1)
        if max_steps is not None and step >= max_steps:
            break

    recalibrate_batchnorm(model, generator=gen)
    model.eval()
    wall, last = meter.wall_s, meter.last
    report: dict[str, Any] = {
        "family": "dcgan",
        "config": cfg,
        "recipe": {
            "data": f"{len(real_all)} images, scaled to [-1, 1]",
            "objective": "GAN minimax with the non-saturating generator loss (BCE on logits)",
            "optimizer": f"Adam lr {lr:g}, betas {betas} for both networks",
            "batch_size": batch_size,
            "epochs": len(meter.history),
            "steps": step,
            "seed": seed,
            "discriminator_parameters": sum(p.numel() for p in disc.parameters()),
            "batchnorm": "running statistics recomputed over 4096 fresh z after training",
            "device": f"{device}, torch threads: {torch.get_num_threads()}",
        },
        "wall_time_s": round(wall, 1),
        "final": {k: last[k] for k in ("loss_d", "loss_g", "d_real", "d_fake") if k in last},
        "history": meter.history,
        "metrics": {},
    }
    return model, report
