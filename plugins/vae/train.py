"""Train a VAE on the ELBO (the paper's SGVB estimator B: analytic KL, L reparameterised draws).

``train(config, ...)`` returns ``(model, report)`` like every zoo trainer: the model and a
JSON-serialisable report (recipe, wall time, per-epoch losses, final losses, and test-set
bounds when the data are the digits).
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from zoo_core.training import (EpochMeter, digits_unless_given, hyperparameters, recipe_for, setup,
                               shuffled_batches)

from .config import TRAINING, TRAINING_FOR, get_config
from .model import VAE

IW_SAMPLES = 500  # importance samples for the test-set bound


@torch.no_grad()
def evaluate(model: VAE, data: torch.Tensor, *, k: int = 0, batch: int = 500, seed: int = 0) -> dict[str, float]:
    """Mean ELBO (and importance-weighted bound with k samples if k) in nats per example."""
    was = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    elbo, recon, kl, iw = [], [], [], []
    for i in range(0, len(data), batch):
        x = data[i:i + batch]
        r, q = model.elbo(x, generator=gen)
        recon.append(r)
        kl.append(q)
        elbo.append(r - q)
        if k:
            iw.append(model.log_prob_iw(x, k, generator=gen))
    model.train(was)
    out = {"elbo": torch.cat(elbo).mean().item(), "recon": torch.cat(recon).mean().item(),
           "kl": torch.cat(kl).mean().item()}
    if k:
        out[f"log_prob_iw{k}"] = torch.cat(iw).mean().item()
    return {key: round(v, 3) for key, v in out.items()}


def train(config: str | dict[str, Any] = "small", *, epochs: int | None = None, seed: int = 0,
          data: torch.Tensor | None = None, batch_size: int | None = None,
          lr: float | None = None, max_steps: int | None = None, threads: int | None = 2,
          device: str = "cpu", log: Callable[[str], None] | None = print) -> tuple[VAE, dict[str, Any]]:
    """Maximise the ELBO on `data` ((N, C, H, W) in [0, 1]; default: digits train split)."""
    cfg = get_config(config)
    hp = recipe_for(config, TRAINING_FOR, TRAINING)
    epochs, batch_size, lr = hyperparameters(hp, epochs, batch_size, lr)
    num_samples = hp["num_samples"]
    gen = setup(seed, threads)

    data, test = digits_unless_given(data, cfg["image_size"])
    model = VAE(**cfg).to(device)
    data = data.float().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    step = 0
    meter = EpochMeter("loss", "recon", "kl", digits=3, log=log, every=10, epochs=epochs,
                       line="-elbo {loss:.2f}  recon {recon:.2f}  kl {kl:.2f}")
    model.train()
    for epoch in range(epochs):
        for x in shuffled_batches(data, batch_size, gen):
            recon, kl = model.elbo(x, num_samples=num_samples, generator=gen)
            loss = (kl - recon).mean()  # negative ELBO, nats per example
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            meter.add(len(x), loss=loss.item(), recon=recon.mean().item(), kl=kl.mean().item())
            step += 1
            if max_steps is not None and step >= max_steps:
                break
        meter.end_epoch(epoch + 1)
        if max_steps is not None and step >= max_steps:
            break
    wall = meter.wall_s
    model.eval()

    metrics: dict[str, Any] = {}
    if test is not None:
        ev = evaluate(model, test.to(device), k=IW_SAMPLES)
        metrics = {"test_elbo_nats": ev["elbo"],
                   f"test_log_prob_iw{IW_SAMPLES}_nats": ev[f"log_prob_iw{IW_SAMPLES}"],
                   "test_recon_nats": ev["recon"], "test_kl_nats": ev["kl"]}
        if log:
            log(f"test: {ev}")
    last = meter.last
    report: dict[str, Any] = {
        "family": "vae",
        "config": cfg,
        "recipe": {
            "data": f"{len(data)} images in [0, 1]",
            "objective": (f"negative ELBO: analytic KL + {num_samples}-sample reparameterised "
                          f"{cfg['likelihood']} reconstruction term (SGVB estimator B)"),
            "optimizer": f"Adam lr {lr:g} (the paper used Adagrad)",
            "batch_size": batch_size,
            "epochs": len(meter.history),
            "steps": step,
            "seed": seed,
            "device": f"{device}, torch threads: {torch.get_num_threads()}",
        },
        "wall_time_s": round(wall, 1),
        "final": {"neg_elbo": last.get("loss"), "recon": last.get("recon"), "kl": last.get("kl")},
        "history": meter.history,
        "metrics": metrics,
    }
    return model, report
