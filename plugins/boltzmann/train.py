"""Training: CD-k and persistent CD on the free energy, then AIS for log Z and the measured
likelihood that goes in the model card.

The CD-k / PCD update is the gradient of  mean F(v_data) - mean F(v_model)  with the negative
particles held fixed (Hinton 2002; Tieleman 2008); autograd on the free energy gives exactly
the usual <.>_data - <.>_model statistics for every family here, so one loop trains them all.
`train_rbm`, `train_gbrbm`, ... have the signature scripts/train.py expects:
``train(config, *, epochs=None, seed=0, ...) -> (model, report)``.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable

import torch

from .base import TorchNoise
from .config import get_config, get_recipe

Log = Callable[[str], None] | None


def cd_loss(model: Any, v_pos: torch.Tensor, v_neg: torch.Tensor, cond_pos: Any = None,
            cond_neg: Any = None) -> torch.Tensor:
    """Surrogate whose gradient is the CD/PCD update: F(data) - F(negative particles)."""
    custom = getattr(model, "cd_loss", None)
    if custom is not None:
        return custom(v_pos, v_neg)
    return model.log_unnorm(v_neg, cond_neg).mean() - model.log_unnorm(v_pos, cond_pos).mean()


def fit_cd(model: Any, data: torch.Tensor, *, labels: torch.Tensor | None = None, epochs: int,
           batch_size: int, lr: float, k: int = 1, persistent: bool = True, chains: int = 100,
           weight_decay: float = 0.0, generator: torch.Generator | None = None,
           sparsity: float = 0.0, sparsity_target: float = 0.05, max_steps: int | None = None,
           optimizer: str = "adam", momentum: float = 0.9, lr_decay: bool = True,
           log: Log = print, tag: str = "") -> list[dict[str, float]]:
    """Train `model` by CD-k (persistent=False) or PCD-k on rows of `data` (in model space).

    The learning rate decays linearly to zero over the run when ``lr_decay`` (PCD needs a small
    final rate: its particles mix partly because the model keeps moving; Tieleman 2008)."""
    noise = TorchNoise(generator)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = (torch.optim.SGD(params, lr=lr, momentum=momentum) if optimizer == "sgd"
           else torch.optim.Adam(params, lr=lr))
    total_steps = epochs * max(len(data) // batch_size, 1)
    if max_steps is not None:
        total_steps = min(total_steps, max_steps)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: max(1.0 - s / total_steps, 0.0) if lr_decay else 1.0)
    weights = [p for n, p in model.named_parameters() if n.split(".")[-1] == "W"]
    chain_cond = None
    if labels is not None:  # persistent chains get balanced labels
        chain_cond = torch.arange(chains) % int(labels.max() + 1)
    fantasy = model.init_state(chains, noise, chain_cond) if persistent else None
    history, step, start = [], 0, time.perf_counter()
    for epoch in range(epochs):
        perm = torch.randperm(len(data), generator=generator)
        sums, count = {"loss": 0.0, "recon": 0.0}, 0
        for i in range(0, len(data) - batch_size + 1, batch_size):
            idx = perm[i:i + batch_size]
            v, cond = data[idx], (labels[idx] if labels is not None else None)
            with torch.no_grad():
                if persistent:
                    neg, cond_neg = fantasy, chain_cond
                else:
                    neg, cond_neg = v, cond
                for _ in range(k):
                    neg = model.gibbs_step(neg, noise, cond_neg)
                if persistent:
                    fantasy = neg
                recon = model.gibbs_step(v, noise, cond)
            loss = cd_loss(model, v, neg, cond, cond_neg)
            if weight_decay:
                loss = loss + 0.5 * weight_decay * sum((w ** 2).sum() for w in weights)
            if sparsity:  # Lee et al. 2009: push mean hidden activations toward a target
                act = model.group_activity(v)
                loss = loss + sparsity * ((act - sparsity_target) ** 2).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if hasattr(model, "constrain"):
                model.constrain()
            sums["loss"] += loss.item()
            sums["recon"] += float(((recon - v) ** 2).mean())
            count += 1
            step += 1
            if max_steps is not None and step >= max_steps:
                break
        row = {"epoch": epoch + 1, **{k_: round(s / max(count, 1), 5) for k_, s in sums.items()},
               "seconds": round(time.perf_counter() - start, 1)}
        history.append(row)
        if log and (epoch + 1) % max(1, epochs // 10) == 0:
            log(f"{tag}epoch {row['epoch']:4d}  cd-loss {row['loss']:+.3f}  "
                f"one-step recon mse {row['recon']:.4f}  {row['seconds']:.0f}s")
        if max_steps is not None and step >= max_steps:
            break
    return history


def load_data(image_size: int, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    from zoo_core.data.digits import load_digits

    return load_digits(split, size=image_size, with_labels=True)


@torch.no_grad()
def likelihood_metrics(model: Any, x01: torch.Tensor, prefix: str) -> dict[str, float]:
    """Mean log p (nats / image), its standard error over images, and bits per dimension."""
    logp = model.log_prob(x01).double()
    d = x01[0].numel()
    key = "bound_" if getattr(model, "log_prob_is_bound", False) else ""
    mean, se = float(logp.mean()), float(logp.std() / math.sqrt(len(logp)))
    return {f"{prefix}_log_prob_{key}nats": round(mean, 3), f"{prefix}_log_prob_{key}nats_se": round(se, 3),
            f"{prefix}_nll_{key}bits_per_dim": round(-mean / (d * math.log(2)), 4)}


def finish(model: Any, report: dict[str, Any], recipe: dict[str, Any], seed: int, log: Log) -> dict[str, Any]:
    """AIS for log Z (stored in the model's buffers), then train/test likelihood metrics."""
    t0 = time.perf_counter()
    log_z, se = model.estimate_log_z(recipe["ais_chains"], recipe["ais_betas"], generator=seed + 1)
    ais_s = time.perf_counter() - t0
    size = model.image_size
    x_train, _ = load_data(size, "train")
    x_test, _ = load_data(size, "test")
    metrics: dict[str, Any] = {}
    if len(log_z) == 1:
        metrics.update({"ais_log_z": round(float(log_z[0]), 3), "ais_log_z_se": round(float(se[0]), 3)})
    else:
        metrics.update({"ais_log_z_mean": round(float(log_z.mean()), 3),
                        "ais_log_z_se_max": round(float(se.max()), 3)})
    metrics.update({"ais_chains": recipe["ais_chains"], "ais_betas": recipe["ais_betas"]})
    metrics.update(likelihood_metrics(model, x_test, "test"))
    metrics.update(likelihood_metrics(model, x_train, "train"))
    report["metrics"] = metrics
    report["recipe"]["ais"] = (f"{recipe['ais_chains']} chains x {recipe['ais_betas']} betas "
                               f"(Salakhutdinov & Murray schedule), {ais_s:.0f}s")
    report["recipe"]["likelihood"] = model.likelihood_space
    if log:
        log(f"AIS log Z = {metrics.get('ais_log_z', metrics.get('ais_log_z_mean'))} "
            f"({ais_s:.0f}s); test: {metrics}")
    return report


def train_energy_model(family: str, config: str | dict[str, Any], *, epochs: int | None = None,
                       seed: int = 0, threads: int | None = 1, max_steps: int | None = None,
                       log: Log = print, **overrides: Any) -> tuple[Any, dict[str, Any]]:
    """Train one of the single-layer families (rbm, gbrbm, crbm, ssrbm, convrbm)."""
    from . import model_class

    if threads:
        torch.set_num_threads(threads)
    cfg, recipe = get_config(family, config), get_recipe(family, config)
    recipe.update({k: v for k, v in overrides.items() if v is not None})
    if epochs is not None:
        recipe["epochs"] = epochs
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = model_class(family)(**cfg)
    x01, labels = load_data(cfg["image_size"])
    if getattr(model, "visible_type", "binary") == "gaussian":
        model.set_data_statistics(x01)
        data = model.prepare(x01)
    else:
        data = model.prepare(x01)
        model.set_data_statistics(data, labels)
    conditional = getattr(model, "condition_kind", None) == "label"
    start = time.perf_counter()
    history = fit_cd(model, data, labels=labels if conditional else None, epochs=recipe["epochs"],
                     batch_size=recipe["batch_size"], lr=recipe["lr"], k=recipe["k"],
                     persistent=recipe["persistent"], chains=recipe["chains"],
                     weight_decay=recipe["weight_decay"], generator=gen,
                     sparsity=recipe.get("sparsity", 0.0), sparsity_target=recipe.get("sparsity_target", 0.05),
                     optimizer=recipe.get("optimizer", "adam"), momentum=recipe.get("momentum", 0.9),
                     lr_decay=recipe.get("lr_decay", True), max_steps=max_steps, log=log)
    model.eval()
    report = {
        "family": family, "config": cfg,
        "recipe": {
            "data": f"{len(data)} digits at {cfg['image_size']}x{cfg['image_size']}, "
                    + ("standardised (per-pixel mean, global scale)" if model.visible_type == "gaussian"
                       else "binarised at 0.5"),
            "objective": f"{'PCD' if recipe['persistent'] else 'CD'}-{recipe['k']} on the free energy"
                         + (f", {recipe['chains']} persistent chains" if recipe["persistent"] else ""),
            "optimizer": (f"{recipe.get('optimizer', 'adam')} lr {recipe['lr']:g}"
                          + (" decaying linearly to 0" if recipe.get("lr_decay", True) else "")
                          + f", weight decay {recipe['weight_decay']:g}"),
            "batch_size": recipe["batch_size"], "epochs": len(history), "seed": seed,
            "device": f"cpu, {torch.get_num_threads()} threads",
        },
        "train_time_s": round(time.perf_counter() - start, 1),
        "final": {"cd_loss": history[-1]["loss"], "recon_mse": history[-1]["recon"]} if history else {},
        "history": history,
    }
    report = finish(model, report, recipe, seed, log)
    report["wall_time_s"] = round(time.perf_counter() - start, 1)
    return model, report


def train_rbm(config: str | dict[str, Any] = "small", **kw: Any):
    return train_energy_model("rbm", config, **kw)


def train_gbrbm(config: str | dict[str, Any] = "small", **kw: Any):
    return train_energy_model("gbrbm", config, **kw)


def train_crbm(config: str | dict[str, Any] = "small", **kw: Any):
    return train_energy_model("crbm", config, **kw)


def train_ssrbm(config: str | dict[str, Any] = "small", **kw: Any):
    return train_energy_model("ssrbm", config, **kw)


def train_convrbm(config: str | dict[str, Any] = "small", **kw: Any):
    return train_energy_model("convrbm", config, **kw)
