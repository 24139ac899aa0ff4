"""Train a GSN (denoising auto-encoder form) with walkback.

Each update corrupts a batch of data, reconstructs it, samples x from p(x | x~) and repeats
``walkback`` times; the loss is the mean over those steps of -log p(x_data | x~_t) (Bernoulli
cross-entropy against the original batch, nats per example).

``train(config, ...)`` returns ``(model, report)`` like every zoo trainer. On the digits, the
report's metrics hold the test-set reconstruction costs and the Parzen-window log-likelihood
estimate the paper reports (Bengio et al. 2014, Table 1; Breuleux et al. 2011).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch

from zoo_core.errors import BadInputError
from zoo_core.training import (EpochMeter, digits_unless_given, hyperparameters, recipe_for, setup,
                               shuffled_batches)

from .config import TRAINING, TRAINING_FOR, get_config
from .model import GSN, TorchNoise

PARZEN_SIGMAS = (0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3)


@torch.no_grad()
def parzen_log_likelihood(samples: torch.Tensor, x: torch.Tensor, sigma: float, batch: int = 256) -> torch.Tensor:
    """log (1/m) sum_j N(x | s_j, sigma^2 I) for each x (nats, (n,)): a Gaussian Parzen window on
    the samples s, the estimator of the paper's Table 1 (biased; compare models with care)."""
    s = samples.reshape(len(samples), -1).double()
    d = s.shape[1]
    out = []
    for i in range(0, len(x), batch):
        xb = x[i:i + batch].reshape(-1, d).double()
        sq = torch.cdist(xb, s).pow(2)
        out.append(torch.logsumexp(-sq / (2 * sigma ** 2), 1) - math.log(len(s))
                   - d * math.log(sigma * math.sqrt(2 * math.pi)))
    return torch.cat(out).float()


@torch.no_grad()
def evaluate(model: GSN, test: torch.Tensor, validation: torch.Tensor, *, num_samples: int = 1000,
             seed: int = 0) -> dict[str, float]:
    """Test walkback costs and the Parzen estimate (sigma chosen on `validation`)."""
    was = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    costs = model.walkback_loss(test, TorchNoise(len(test), gen, model.device))
    samples = model.sample(num_samples, generator=seed).data.to(model.device)
    best = max(PARZEN_SIGMAS, key=lambda s: parzen_log_likelihood(samples, validation, s).mean().item())
    ll = parzen_log_likelihood(samples, test, best)
    model.train(was)
    out = {"recon_nats_step1": costs[0].mean().item(), "recon_nats_walkback": costs.mean().item(),
           "parzen_log_likelihood_nats": ll.mean().item(),
           "parzen_log_likelihood_stderr": (ll.std() / math.sqrt(len(ll))).item(), "parzen_sigma": best}
    return {k: round(v, 4) for k, v in out.items()}


def train(config: str | dict[str, Any] = "small", *, epochs: int | None = None, seed: int = 0,
          data: torch.Tensor | None = None, batch_size: int | None = None,
          lr: float | None = None, max_steps: int | None = None, threads: int | None = 1,
          device: str = "cpu", log: Callable[[str], None] | None = print,
          recipe: dict[str, Any] | None = None) -> tuple[GSN, dict[str, Any]]:
    """Train on `data` ((N, C, H, W) in [0, 1]; default: the digits train split)."""
    cfg = get_config(config)
    recipe = recipe_for(config, TRAINING_FOR, TRAINING, recipe)
    epochs, batch_size, lr = hyperparameters(recipe, epochs, batch_size, lr)
    gen = setup(seed, threads)

    data, test = digits_unless_given(data, cfg["image_size"])
    model = GSN(**cfg).to(device)
    if tuple(data.shape[1:]) != model.image_shape:
        raise BadInputError(f"data of shape {tuple(data.shape[1:])} does not fit config {cfg}")
    data = data.float().to(device)
    if recipe["optimizer"] == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=recipe["momentum"])
        opt_text = f"SGD lr {lr:g}, momentum {recipe['momentum']:g}"
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        opt_text = f"Adam lr {lr:g}"
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=recipe["annealing"])

    step = 0
    meter = EpochMeter("loss", "step1", "last", digits=3, log=log, every=10, epochs=epochs,
                       line="walkback cost {loss:.2f}  step 1 {step1:.2f}  last step {last:.2f}")
    model.train()
    for epoch in range(epochs):
        for x in shuffled_batches(data, batch_size, gen):
            # (walkback, n); a warm-up of plain denoising (one step) first, if the recipe has one
            k = 1 if epoch < recipe.get("warmup_epochs", 0) else model.walkback
            costs = model.walkback_loss(x, TorchNoise(len(x), gen, device), steps=k)
            loss = costs.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            meter.add(len(x), loss=loss.item(), step1=costs[0].mean().item(), last=costs[-1].mean().item())
            step += 1
            if max_steps is not None and step >= max_steps:
                break
        sched.step()
        meter.end_epoch(epoch + 1)
        if max_steps is not None and step >= max_steps:
            break
    wall, cpu = meter.wall_s, meter.cpu_s
    model.eval()

    metrics: dict[str, Any] = {}
    if test is not None:
        ev = evaluate(model, test.to(device), data[-300:])
        metrics = {f"test_{k}" if not k.startswith("parzen") else k: v for k, v in ev.items()}
        if log:
            log(f"test: {ev}")
    last = meter.last
    report: dict[str, Any] = {
        "family": "gsn",
        "config": cfg,
        "recipe": {
            "data": f"{len(data)} images in [0, 1]",
            "objective": (f"walkback: mean over {model.walkback} chain steps of -log p(x | x~_t), "
                          f"{cfg['corruption'].replace('_', '-')} corruption {cfg['corruption_level']:g}, "
                          f"hidden noise std {cfg['hidden_noise']:g}, Bernoulli visible units"),
            "optimizer": f"{opt_text}, lr x {recipe['annealing']:g} per epoch",
            "warm-up": (f"the first {recipe['warmup_epochs']} epochs train plain denoising (1 walkback step)"
                        if recipe.get("warmup_epochs") else "none"),
            "form": ("the denoising auto-encoder form of a GSN (section 3; Bengio et al. 2013): the "
                     "chain's state is x alone, not the paper's deep GSN with lateral hidden updates"),
            "resolution": (f"{cfg['image_size']}x{cfg['image_size']}"
                           + (" (the 8x8 digits upsampled bilinearly), chosen for CPU speed"
                              if cfg["image_size"] < 32 else "")),
            "batch_size": batch_size,
            "epochs": len(meter.history),
            "steps": step,
            "seed": seed,
            "device": f"{device}, {torch.get_num_threads()} threads, {cpu:.0f} s of CPU time",
            "parzen": ("Gaussian Parzen window on 1000 chain samples (seed 0, default sampler), sigma "
                       f"from {list(PARZEN_SIGMAS)} chosen on the last 300 training images, "
                       "log-likelihood averaged over the test split (nats)"),
        },
        "wall_time_s": round(wall, 1),
        "cpu_time_s": round(cpu, 1),
        "final": {"walkback_cost": last.get("loss"), "step1_cost": last.get("step1"),
                  "last_step_cost": last.get("last")},
        "history": meter.history,
        "metrics": metrics,
    }
    return model, report
