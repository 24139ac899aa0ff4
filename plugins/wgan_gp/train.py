"""Train a WGAN-GP as in the paper (Algorithm 1): n_critic critic steps on
D(G(z)) - D(x) + lambda (||grad D(x_hat)|| - 1)^2 per generator step on -D(G(z)),
Adam(1e-4, beta1 0, beta2 0.9), images scaled to [-1, 1].

``train(config, ...)`` returns ``(model, report)`` like every zoo trainer.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from plugins.dcgan.train import recalibrate_batchnorm
from zoo_core.errors import BadInputError
from zoo_core.training import EpochMeter, setup

from .config import TRAINING, TRAINING_FOR, get_config
from .model import WGANGP


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, *,
                     eps: torch.Tensor | None = None,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """E[(||grad_x D(x_hat)||_2 - 1)^2] at x_hat = eps x + (1 - eps) x~, eps ~ U[0, 1] per
    example (the paper's eq. 3, without lambda). Differentiable in the critic's weights."""
    if eps is None:
        eps = torch.rand(real.shape[0], generator=generator).to(real.device)
    eps = eps.view(-1, *([1] * (real.dim() - 1)))
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).pow(2).mean()


def train(config: str | dict[str, Any] = "small", *, epochs: int | None = None, seed: int = 0,
          data: torch.Tensor | None = None, batch_size: int | None = None,
          lr: float | None = None, max_steps: int | None = None, threads: int | None = 1,
          device: str = "cpu", log: Callable[[str], None] | None = print) -> tuple[WGANGP, dict[str, Any]]:
    """Train the generator against a critic built from the same config.

    ``data`` is (N, C, H, W) in [0, 1]; by default the digits train split at the config's size.
    ``max_steps`` caps the generator iterations (tests).
    """
    cfg = get_config(config)
    recipe = TRAINING_FOR.get(config, TRAINING) if isinstance(config, str) else TRAINING
    epochs = recipe["epochs"] if epochs is None else epochs
    batch_size = batch_size or recipe["batch_size"]
    lr = lr or recipe["lr"]
    n_critic, lam = recipe["n_critic"], recipe["gp_lambda"]
    gen = setup(seed, threads)

    if data is None:
        from zoo_core.data.digits import load_digits

        data = load_digits("train", size=cfg["image_size"])
    if data.shape[1:] != (cfg["channels"], cfg["image_size"], cfg["image_size"]):
        raise BadInputError(f"data of shape {tuple(data.shape[1:])} does not fit config {cfg}")
    real_all = (data.float() * 2 - 1).to(device)

    model = WGANGP(**cfg).to(device)
    critic = model.make_critic().to(device)
    betas = (recipe["beta1"], recipe["beta2"])
    opt_g = torch.optim.Adam(model.parameters(), lr=lr, betas=betas)
    opt_c = torch.optim.Adam(critic.parameters(), lr=lr, betas=betas)

    critic_steps = gen_steps = 0
    meter = EpochMeter("loss_c", "wasserstein", "gp", "loss_g", log=log, every=10, epochs=epochs,
                       line="G steps {generator_steps:5d}  W {wasserstein:.3f}  GP {gp:.3f}  loss_g {loss_g:.3f}")
    model.train()
    critic.train()
    done = False
    for epoch in range(epochs):
        perm = torch.randperm(len(real_all), generator=gen)
        for i in range(0, max(len(perm) - batch_size + 1, 1), batch_size):
            real = real_all[perm[i:i + batch_size]]
            z = torch.randn(len(real), model.nz, generator=gen).to(device)
            with torch.no_grad():
                fake = model(z)
            # critic: minimise D(fake) - D(real) + lambda * GP
            opt_c.zero_grad(set_to_none=True)
            w_dist = critic(real).mean() - critic(fake).mean()
            gp = gradient_penalty(critic, real, fake, generator=gen)
            loss_c = -w_dist + lam * gp
            loss_c.backward()
            opt_c.step()
            meter.add(loss_c=loss_c.item(), wasserstein=w_dist.item(), gp=gp.item())
            critic_steps += 1
            if critic_steps % n_critic:
                continue
            # generator: minimise -D(G(z))
            opt_g.zero_grad(set_to_none=True)
            for p in critic.parameters():
                p.requires_grad_(False)
            z = torch.randn(batch_size, model.nz, generator=gen).to(device)
            loss_g = -critic(model(z)).mean()
            loss_g.backward()
            for p in critic.parameters():
                p.requires_grad_(True)
            opt_g.step()
            meter.add(loss_g=loss_g.item())
            gen_steps += 1
            if max_steps is not None and gen_steps >= max_steps:
                done = True
                break
        meter.end_epoch(epoch + 1, final=done, generator_steps=gen_steps)
        if done:
            break

    recalibrate_batchnorm(model, generator=gen)
    model.eval()
    wall, last = meter.wall_s, meter.last
    report: dict[str, Any] = {
        "family": "wgan-gp",
        "config": cfg,
        "recipe": {
            "data": f"{len(real_all)} images, scaled to [-1, 1]",
            "objective": (f"Wasserstein critic loss with gradient penalty (lambda {lam:g}) on "
                          f"real-fake interpolates; generator loss -D(G(z))"),
            "optimizer": f"Adam lr {lr:g}, betas {betas} for both networks",
            "n_critic": n_critic,
            "batch_size": batch_size,
            "epochs": len(meter.history),
            "critic_steps": critic_steps,
            "generator_steps": gen_steps,
            "seed": seed,
            "critic_parameters": sum(p.numel() for p in critic.parameters()),
            "critic_normalisation": cfg.get("critic_norm", "layernorm"),
            "batchnorm": "generator running statistics recomputed over 4096 fresh z after training",
            "device": f"{device}, {torch.get_num_threads()} threads",
            "cpu_time_s": round(meter.cpu_s, 1),
        },
        "wall_time_s": round(wall, 1),
        "final": {k: last[k] for k in ("loss_c", "wasserstein", "gp", "loss_g") if k in last},
        "history": meter.history,
        "metrics": {},
    }
    return model, report
