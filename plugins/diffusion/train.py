"""Train DDPM (L_simple, Ho et al. 2020) and NCSN (denoising score matching, Song & Ermon 2019).

Both minimise `model.loss(x)` with Adam; DDPM adds the paper's linear warm-up, gradient
clipping at norm 1 and an exponential moving average of the weights (the published weights are
the EMA's). ``train_ddpm(config, ...)`` / ``train_ncsn(config, ...)`` return ``(model, report)``
like every zoo trainer, so `python scripts/train.py ddpm --config small --out runs/ddpm` works.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

import torch

from zoo_core.errors import BadInputError
from zoo_core.training import EpochMeter, setup

from .config import get_config, get_recipe


def _fit(family: str, config: str | dict[str, Any], *, epochs: int | None, seed: int,
         data: torch.Tensor | None, batch_size: int | None, lr: float | None, max_steps: int | None,
         threads: int | None, device: str, log: Callable[[str], None] | None):
    cfg = get_config(family, config)
    recipe = get_recipe(family, config)
    epochs = recipe["epochs"] if epochs is None else epochs
    batch_size = batch_size or recipe["batch_size"]
    lr = lr or recipe["lr"]
    gen = setup(seed, threads)

    if data is None:
        from zoo_core.data.digits import load_digits

        data = load_digits("train", size=cfg["image_size"])
    if data.shape[1:] != (cfg["channels"], cfg["image_size"], cfg["image_size"]):
        raise BadInputError(f"data of shape {tuple(data.shape[1:])} does not fit config {cfg}")

    if family == "ddpm":
        from .ddpm import DDPM

        model, x_all, scaling = DDPM(**cfg), data.float() * 2 - 1, "scaled to [-1, 1]"
    else:
        from .ncsn import NCSN

        model, x_all, scaling = NCSN(**cfg), data.float(), "in [0, 1]"
    model, x_all = model.to(device), x_all.to(device)
    ema = copy.deepcopy(model).eval() if recipe["ema"] else None
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    step, done = 0, False
    meter = EpochMeter("loss", digits=5, log=log, every=5, epochs=epochs, line="loss {loss:.4f}")
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(x_all), generator=gen)
        for i in range(0, max(len(perm) - batch_size + 1, 1), batch_size):
            if recipe["warmup"]:
                for group in opt.param_groups:
                    group["lr"] = lr * min(1.0, (step + 1) / recipe["warmup"])
            loss = model.loss(x_all[perm[i:i + batch_size]], generator=gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if recipe["grad_clip"]:
                torch.nn.utils.clip_grad_norm_(model.parameters(), recipe["grad_clip"])
            opt.step()
            if ema is not None:
                with torch.no_grad():
                    for pe, p in zip(ema.parameters(), model.parameters()):
                        pe.lerp_(p, 1 - recipe["ema"])
            meter.add(loss=loss.item())
            step += 1
            if max_steps is not None and step >= max_steps:
                done = True
                break
        meter.end_epoch(epoch + 1, final=done)
        if done:
            break

    final = ema if ema is not None else model
    final.eval()
    report: dict[str, Any] = {
        "family": family,
        "config": cfg,
        "recipe": {
            "data": f"{len(x_all)} images of {cfg['image_size']}x{cfg['image_size']}, {scaling}",
            "objective": ("L_simple: MSE between the noise and its prediction, t ~ U{1..T}"
                          if family == "ddpm" else
                          "denoising score matching, lambda(sigma) = sigma^2, sigma ~ U{sigma_1..sigma_L}"),
            "optimizer": (f"Adam lr {lr:g}" + (f", linear warm-up over {recipe['warmup']} steps"
                                               if recipe["warmup"] else "")
                          + (f", gradient norm clipped at {recipe['grad_clip']:g}" if recipe["grad_clip"] else "")),
            "ema": f"weights are an EMA with decay {recipe['ema']}" if ema is not None else "none",
            "batch_size": batch_size,
            "epochs": len(meter.history),
            "steps": step,
            "seed": seed,
            "device": f"{device}, {torch.get_num_threads()} threads",
            "cpu_time_s": round(meter.cpu_s, 1),
        },
        "wall_time_s": round(meter.wall_s, 1),
        "final": {"loss": meter.last["loss"]} if meter.history else {},
        "history": meter.history,
        "metrics": {},
    }
    return final, report


def train_ddpm(config: str | dict[str, Any] = "small", *, epochs: int | None = None, seed: int = 0,
               data: torch.Tensor | None = None, batch_size: int | None = None, lr: float | None = None,
               max_steps: int | None = None, threads: int | None = 1, device: str = "cpu",
               log: Callable[[str], None] | None = print):
    """Train a DDPM on `data` ((N, C, H, W) in [0, 1]; default: the digits train split)."""
    return _fit("ddpm", config, epochs=epochs, seed=seed, data=data, batch_size=batch_size, lr=lr,
                max_steps=max_steps, threads=threads, device=device, log=log)


def train_ncsn(config: str | dict[str, Any] = "small", *, epochs: int | None = None, seed: int = 0,
               data: torch.Tensor | None = None, batch_size: int | None = None, lr: float | None = None,
               max_steps: int | None = None, threads: int | None = 1, device: str = "cpu",
               log: Callable[[str], None] | None = print):
    """Train an NCSN on `data` ((N, C, H, W) in [0, 1]; default: the digits train split)."""
    return _fit("ncsn", config, epochs=epochs, seed=seed, data=data, batch_size=batch_size, lr=lr,
                max_steps=max_steps, threads=threads, device=device, log=log)
