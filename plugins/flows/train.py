"""Train a flow by maximum likelihood on dequantised digits.

Each step: x (train split, in [0, 1]) -> x~ = (round((K-1) x) + u - 1/2) / (K-1) with fresh u
(dequantize.py) -> minimise the mean bits/dim -log p(x~) / (D ln 2) + log2(K-1) with Adam. ActNorm layers initialise
from a first batch of 512 images before training (`FlowModel.data_init`); MAF's batch-norm
statistics are set to the exact training-set statistics at the end. The report carries
the test-split bits/dim (discrete K-level bound, one seeded dequantisation) into the model card.

``train_realnvp / train_glow / train_maf(config, *, epochs=None, seed=0, ...) -> (model, report)``.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable

import torch

from zoo_core.errors import BadInputError

from . import dequantize as dq
from .config import get_config, get_training

CLASSES = {"realnvp": ("realnvp", "RealNVP"), "glow": ("glow", "Glow"), "maf": ("maf", "MAF")}


def build(family: str, cfg: dict[str, Any]):
    import importlib

    module, cls = CLASSES[family]
    return getattr(importlib.import_module(f"{__package__}.{module}"), cls)(**cfg)


@torch.no_grad()
def evaluate_bpd(model, data: torch.Tensor, seed: int = 1234, batch_size: int = 256) -> tuple[float, float]:
    """(mean, standard error) of the discrete bits/dim over `data`, dequantised with `seed`."""
    was = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    bpd = torch.cat([model.bits_per_dim(data[i:i + batch_size], generator=gen)
                     for i in range(0, len(data), batch_size)])
    model.train(was)
    return float(bpd.mean()), float(bpd.std() / math.sqrt(len(bpd)))


def train(family: str, config: str | dict[str, Any] = "small", *, epochs: int | None = None,
          seed: int = 0, data: torch.Tensor | None = None, test_data: torch.Tensor | None = None,
          batch_size: int | None = None, lr: float | None = None, max_steps: int | None = None,
          max_seconds: float | None = None, threads: int | None = 1, device: str = "cpu",
          log: Callable[[str], None] | None = print) -> tuple[Any, dict[str, Any]]:
    if threads:
        torch.set_num_threads(threads)
    cfg = get_config(family, config)
    recipe = get_training(family, config)
    if max_seconds is None and epochs is None:  # an explicit epoch count runs in full
        max_seconds = recipe.get("max_seconds")
    epochs = recipe["epochs"] if epochs is None else epochs
    batch_size = batch_size or recipe["batch_size"]
    lr = lr or recipe["lr"]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)

    if data is None or test_data is None:
        from zoo_core.data.digits import load_digits

        data = load_digits("train", size=cfg["image_size"]) if data is None else data
        test_data = load_digits("test", size=cfg["image_size"]) if test_data is None else test_data
    model = build(family, cfg).to(device)
    if tuple(data.shape[1:]) != tuple(model.image_shape):
        raise BadInputError(f"data of shape {tuple(data.shape[1:])} does not fit config {cfg}")
    data, test_data = data.float().to(device), test_data.float().to(device)
    K, D = model.num_bins, model.data_dim

    init = data[torch.randperm(len(data), generator=gen)[:512]]
    model.data_init(dq.dequantize(init, K, gen))  # ActNorm's data-dependent initialisation
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=recipe["weight_decay"])
    warmup = recipe["warmup_steps"]
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) if warmup else 1.0)

    history: list[dict[str, float]] = []
    step, start = 0, time.perf_counter()
    model.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(data), generator=gen)
        total, count = 0.0, 0
        for i in range(0, max(len(perm) - batch_size + 1, 1), batch_size):
            y = dq.dequantize(data[perm[i:i + batch_size]], K, gen)
            loss = dq.bits_per_dim(model.log_prob(y), D, K).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), recipe["grad_clip"])
            opt.step()
            sched.step()
            total += loss.item()
            count += 1
            step += 1
            if max_steps is not None and step >= max_steps:
                break
        row = {"epoch": epoch + 1, "train_bpd": round(total / max(count, 1), 4),
               "seconds": round(time.perf_counter() - start, 1)}
        if (epoch + 1) % 10 == 0 or epoch + 1 == epochs:
            row["test_bpd"] = round(evaluate_bpd(model, test_data)[0], 4)
        history.append(row)
        if log:
            log(f"epoch {row['epoch']:3d}  train {row['train_bpd']:.3f} bits/dim"
                + (f"  test {row['test_bpd']:.3f}" if "test_bpd" in row else "") + f"  {row['seconds']:.0f}s")
        if max_steps is not None and step >= max_steps:
            break
        if max_seconds is not None and row["seconds"] >= max_seconds and epoch + 1 < epochs:
            if log:
                log(f"stopping after {epoch + 1} epochs: the {max_seconds:g}s budget is spent")
            break

    if hasattr(model, "set_batchnorm_stats"):
        model.set_batchnorm_stats(dq.dequantize(data, K, gen))
    model.eval()
    wall = time.perf_counter() - start
    test_bpd, test_se = evaluate_bpd(model, test_data)
    train_bpd, _ = evaluate_bpd(model, data)
    report: dict[str, Any] = {
        "family": family,
        "config": cfg,
        "recipe": {
            "data": (f"digits train split, {len(data)} images at {model.image_shape[1]}x{model.image_shape[2]}"
                     + (" (their native resolution and 17 grey levels: CPU training within 8 minutes)"
                        if model.image_shape[1] == 8 else " (bilinearly upsampled from 8x8)")),
            "data transform": (f"discretise to K = {K} levels k = round({K - 1} x), dequantise "
                               f"x~ = (k + u - 1/2) / {K - 1} with u ~ U[0,1), y = ({K - 1} x~ + 1/2) / {K}, "
                               f"v = logit(a + (1-2a) y) with a = {model.alpha:g} (dequantize.py)"),
            "bits/dim": dq.FORMULA,
            "objective": "maximum likelihood (mean bits/dim of freshly dequantised batches)",
            "optimizer": (f"Adam lr {lr:g}, weight decay {recipe['weight_decay']:g}, "
                          f"{warmup} warm-up steps, grad-norm clip {recipe['grad_clip']:g}"),
            "batch_size": batch_size,
            "epochs": len(history),
            "epochs_planned": epochs,
            "time_budget_s": max_seconds,
            "steps": step,
            "seed": seed,
            "device": f"{device}, {torch.get_num_threads()} threads",
        },
        "wall_time_s": round(wall, 1),
        "final": {"train_bpd": history[-1]["train_bpd"] if history else None},
        "history": history,
        "metrics": {"test_bits_per_dim": round(test_bpd, 4), "test_bits_per_dim_se": round(test_se, 4),
                    "train_bits_per_dim": round(train_bpd, 4), "bits_per_dim_levels": K,
                    "test_examples": len(test_data)},
    }
    return model, report


def train_realnvp(config: str | dict[str, Any] = "small", **kwargs: Any):
    return train("realnvp", config, **kwargs)


def train_glow(config: str | dict[str, Any] = "small", **kwargs: Any):
    return train("glow", config, **kwargs)


def train_maf(config: str | dict[str, Any] = "small", **kwargs: Any):
    return train("maf", config, **kwargs)
