"""Train an EBM by contrastive divergence with Langevin negatives and a replay buffer
(Du & Mordatch 2019, Algorithm 1).

Each update: positives x+ from the data; negatives x- from K Langevin steps on the current
energy, started from the replay buffer (or, a fraction ``reinit`` of the time, from uniform
noise) and written back to it; loss E(x+) - E(x-) + alpha (E(x+)^2 + E(x-)^2), minimised
with Adam. The negatives carry no gradient to the energy's parameters.

``train(config, ...)`` returns ``(model, report)`` like every zoo trainer.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from zoo_core.errors import BadInputError
from zoo_core.rng import SampleRNG
from zoo_core.training import (EpochMeter, digits_unless_given, hyperparameters, recipe_for, setup,
                               shuffled_batches)

from .config import TRAINING, TRAINING_FOR, get_config

from .langevin import LangevinSampler, ReplayBuffer, langevin
from .model import EBM


@torch.no_grad()
def evaluate(model: EBM, data: torch.Tensor, *, num_samples: int = 256, seed: int = 0,
             batch: int = 256) -> dict[str, float]:
    """Mean energy of `data` (at the energy's resolution), of uniform noise, and of the chains
    of the default Langevin sampler from noise (seeded), and how far those are from the data."""
    was = model.training
    model.eval()
    e_data = torch.cat([model(data[i:i + batch]) for i in range(0, len(data), batch)])
    rng = SampleRNG.from_seed(seed, 0, num_samples, model.device)
    states = LangevinSampler().chain(model, num_samples, rng)
    noise = torch.rand((num_samples, *model.energy_shape), generator=torch.Generator().manual_seed(seed))
    e_samples = model(states)
    e_noise = model(noise.to(model.device))
    # distance from each sample to its nearest data image (root mean square per pixel)
    flat = data.reshape(len(data), -1)
    d = torch.cdist(states.reshape(len(states), -1), flat).min(1).values / flat.shape[1] ** 0.5
    model.train(was)
    out = {"energy_data": e_data.mean().item(), "energy_samples": e_samples.mean().item(),
           "energy_noise": e_noise.mean().item(), "sample_nn_rms": d.mean().item()}
    return {k: round(v, 4) for k, v in out.items()}


def negatives_text(recipe: dict[str, Any], k_steps: int, model: EBM) -> str:
    steps = (f"{k_steps} Langevin steps (step size {model.step_size:g}, noise {model.noise:g}, gradient "
             f"clipped to +-{model.grad_clip:g} per pixel, clamped to [0, 1])")
    if recipe["reinit"] >= 1:
        return (f"{steps} from uniform noise at every update: non-persistent short-run MCMC (Nijkamp "
                "et al. 2019), the chain the published sampler runs; the replay buffer is not used")
    text = (f"{steps} from a replay buffer of {recipe['buffer_size']} ({1 - recipe['reinit']:.0%} reused, "
            f"{recipe['reinit']:.0%} restarted from uniform noise")
    if recipe["max_age"]:
        text += (f", and every chain restarted after {recipe['max_age']} runs, so negatives are "
                 f"short-run chains of at most {recipe['max_age'] * k_steps} steps from noise")
    return text + ")"


def train(config: str | dict[str, Any] = "small", *, epochs: int | None = None, seed: int = 0,
          data: torch.Tensor | None = None, batch_size: int | None = None,
          lr: float | None = None, max_steps: int | None = None, threads: int | None = 1,
          device: str = "cpu", log: Callable[[str], None] | None = print,
          recipe: dict[str, Any] | None = None) -> tuple[EBM, dict[str, Any]]:
    """Train the energy on `data` ((N, C, H, W) in [0, 1]; default: digits train split)."""
    cfg = get_config(config)
    recipe = recipe_for(config, TRAINING_FOR, TRAINING, recipe)
    epochs, batch_size, lr = hyperparameters(recipe, epochs, batch_size, lr)
    alpha, k_steps = recipe["alpha"], recipe["train_steps"]
    gen = setup(seed, threads)

    data, test = digits_unless_given(data, cfg.get("energy_size") or cfg["image_size"])
    model = EBM(**cfg).to(device)
    if tuple(data.shape[1:]) != model.energy_shape:
        raise BadInputError(f"data of shape {tuple(data.shape[1:])} does not fit config {cfg}")
    data = data.float().to(device)
    buffer = ReplayBuffer(recipe["buffer_size"], model.energy_shape, reinit=recipe["reinit"],
                          max_age=recipe["max_age"], value_range=model.value_range, generator=gen)
    betas = (recipe["beta1"], recipe["beta2"])
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=betas)
    mcmc = {"step_size": model.step_size, "noise": model.noise, "grad_clip": model.grad_clip,
            "value_range": model.value_range, "generator": gen}

    step = 0
    meter = EpochMeter("loss", "e_pos", "e_neg", log=log,
                       line="loss {loss:.4f}  E(x+) {e_pos:.4f}  E(x-) {e_neg:.4f}")
    model.train()
    b = min(batch_size, len(data))
    for epoch in range(epochs):
        for x_pos in shuffled_batches(data, b, gen, drop_last=True):
            x_neg, slots = buffer.sample(b)
            x_neg = langevin(model, x_neg.to(device), k_steps, **mcmc)
            buffer.push(x_neg, slots)
            e_pos, e_neg = model(torch.cat([x_pos, x_neg])).split(b)
            loss = e_pos.mean() - e_neg.mean() + alpha * (e_pos.pow(2).mean() + e_neg.pow(2).mean())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            meter.add(loss=loss.item(), e_pos=e_pos.mean().item(), e_neg=e_neg.mean().item())
            step += 1
            if max_steps is not None and step >= max_steps:
                break
        meter.end_epoch(epoch + 1)
        if max_steps is not None and step >= max_steps:
            break
    wall, cpu = meter.wall_s, meter.cpu_s
    model.eval()

    metrics: dict[str, Any] = {}
    if test is not None:
        ev = evaluate(model, test.to(device))
        metrics = {f"test_{k}": v for k, v in ev.items()}
        if log:
            log(f"test: {ev}")
    last = meter.last
    report: dict[str, Any] = {
        "family": "ebm",
        "config": cfg,
        "recipe": {
            "data": f"{len(data)} images in [0, 1]",
            "objective": (f"contrastive divergence E(x+) - E(x-) + {alpha:g} (E(x+)^2 + E(x-)^2) "
                          "(Du & Mordatch 2019)"),
            "negatives": negatives_text(recipe, k_steps, model),
            "optimizer": f"Adam lr {lr:g}, betas {betas}",
            "sampling": (f"the published sampler cannot use the replay buffer: it runs "
                         f"{model.sample_steps} Langevin steps from uniform noise (short-run MCMC, "
                         "Nijkamp et al. 2019, https://arxiv.org/abs/1904.09770)"),
            "resolution": (f"the energy works at {model.energy_size}x{model.energy_size}"
                           + (f" (the digits' native 8x8, for CPU speed); samples are upsampled "
                              f"bilinearly to {model.image_size}x{model.image_size}, exactly as the "
                              f"data loader makes the {model.image_size}x{model.image_size} digits"
                              if model.energy_size < model.image_size else "")),
            "batch_size": b,
            "epochs": len(meter.history),
            "steps": step,
            "seed": seed,
            "device": f"{device}, {torch.get_num_threads()} threads, {cpu:.0f} s of CPU time",
        },
        "wall_time_s": round(wall, 1),
        "cpu_time_s": round(cpu, 1),
        "final": {k: last.get(k) for k in ("loss", "e_pos", "e_neg")},
        "history": meter.history,
        "metrics": metrics,
    }
    return model, report
