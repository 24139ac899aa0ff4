"""The deep Boltzmann machine with two hidden layers (Salakhutdinov & Hinton 2009).

    E(v, h1, h2) = -b.v - c1.h1 - c2.h2 - v.W1.h1 - h1.W2.h2

Training: greedy pretraining of two modified RBMs (bottom-up input doubled in the first,
top-down input doubled in the second, so that their sum is right once both halves meet in the
DBM), then joint training: a mean-field posterior q(h1) q(h2) for the data-dependent statistics
and persistent Gibbs chains for the model's.

Likelihood: log p(v) >= E_q[-E(v, h)] + H(q) - log Z (mean field q; a *lower bound*, so
``log_prob_is_bound = True``), with log Z from AIS over states (v, h2), h1 summed out
analytically (Salakhutdinov & Murray 2008), from a factorial base over v and h2.
"""
from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .base import BoltzmannModel, TorchNoise, bernoulli_log_prob, binarize, binary_entropy
from .config import get_config, get_recipe
from .rbm import RBMLayer


class DBM(BoltzmannModel):
    family = "dbm"
    log_prob_is_bound = True

    def __init__(self, image_size: int = 16, hidden1: int = 300, hidden2: int = 300,
                 mean_field_steps: int = 30) -> None:
        super().__init__()
        self.image_size, self.hidden1, self.hidden2 = image_size, hidden1, hidden2
        self.mean_field_steps = mean_field_steps
        d = image_size * image_size
        self.W1 = nn.Parameter(torch.randn(d, hidden1) * 0.01)
        self.W2 = nn.Parameter(torch.randn(hidden1, hidden2) * 0.01)
        self.b = nn.Parameter(torch.zeros(d))
        self.c1 = nn.Parameter(torch.zeros(hidden1))
        self.c2 = nn.Parameter(torch.zeros(hidden2))
        self.register_buffer("base_logits", torch.zeros(d))
        self.register_buffer("base_logits_h2", torch.zeros(hidden2))
        self._init_log_z(1)

    # -- energy, conditionals, mean field -------------------------------------------------
    def energy(self, v: torch.Tensor, h1: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
        return -((v * self.b).sum(-1) + (h1 * self.c1).sum(-1) + (h2 * self.c2).sum(-1)
                 + ((v @ self.W1) * h1).sum(-1) + ((h1 @ self.W2) * h2).sum(-1))

    def h1_logits(self, v: torch.Tensor, h2: torch.Tensor) -> torch.Tensor:
        return v @ self.W1 + h2 @ self.W2.t() + self.c1

    def v_logits(self, h1: torch.Tensor) -> torch.Tensor:
        return h1 @ self.W1.t() + self.b

    def h2_logits(self, h1: torch.Tensor) -> torch.Tensor:
        return h1 @ self.W2 + self.c2

    def mean_field(self, v: torch.Tensor, steps: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Fixed-point updates of q(h1) q(h2), started from the doubled bottom-up pass."""
        mu1 = torch.sigmoid(2 * (v @ self.W1) + self.c1)
        mu2 = torch.sigmoid(self.h2_logits(mu1))
        for _ in range(self.mean_field_steps if steps is None else steps):
            mu1 = torch.sigmoid(self.h1_logits(v, mu2))
            mu2 = torch.sigmoid(self.h2_logits(mu1))
        return mu1, mu2

    def variational_bound_unnorm(self, v: torch.Tensor) -> torch.Tensor:
        """E_q[-E(v, h)] + H(q): log p(v) + log Z >= this (energy is linear in each h)."""
        mu1, mu2 = self.mean_field(v)
        return -self.energy(v, mu1, mu2) + binary_entropy(mu1) + binary_entropy(mu2)

    # -- the BoltzmannModel interface (states are (v, h2)) --------------------------------
    def log_unnorm(self, state: tuple[torch.Tensor, torch.Tensor], cond: Any = None,
                   beta: float = 1.0) -> torch.Tensor:
        v, h2 = state
        out = (beta * ((v * self.b).sum(-1) + (h2 * self.c2).sum(-1))
               + F.softplus(beta * self.h1_logits(v, h2)).sum(-1))
        if beta != 1.0:
            out = out + (1 - beta) * ((v * self.base_logits).sum(-1) + (h2 * self.base_logits_h2).sum(-1))
        return out

    def base_log_prob(self, state: tuple[torch.Tensor, torch.Tensor], cond: Any = None) -> torch.Tensor:
        v, h2 = state
        return (bernoulli_log_prob(v, self.base_logits.expand_as(v))
                + bernoulli_log_prob(h2, self.base_logits_h2.expand_as(h2)))

    def init_state(self, n: int, noise: TorchNoise, cond: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        v = noise.bernoulli(torch.sigmoid(self.base_logits).expand(n, -1).contiguous())
        h2 = noise.bernoulli(torch.sigmoid(self.base_logits_h2).expand(n, -1).contiguous())
        return v, h2

    def gibbs_step(self, state: tuple[torch.Tensor, torch.Tensor], noise: TorchNoise, cond: Any = None,
                   beta: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """h1 | v, h2; then v and h2 together (independent given h1)."""
        v, h2 = state
        h1 = noise.bernoulli(torch.sigmoid(beta * self.h1_logits(v, h2)))
        lv, l2 = beta * self.v_logits(h1), beta * self.h2_logits(h1)
        if beta != 1.0:
            lv, l2 = lv + (1 - beta) * self.base_logits, l2 + (1 - beta) * self.base_logits_h2
        return noise.bernoulli(torch.sigmoid(lv)), noise.bernoulli(torch.sigmoid(l2))

    def to_image(self, state: tuple[torch.Tensor, torch.Tensor], noise: TorchNoise, cond: Any = None,
                 mean: bool = True) -> torch.Tensor:
        v, h2 = state
        if mean:
            h1 = noise.bernoulli(torch.sigmoid(self.h1_logits(v, h2)))
            v = torch.sigmoid(self.v_logits(h1))
        return v.reshape(len(v), *self.image_shape)

    def prepare(self, x01: torch.Tensor) -> torch.Tensor:
        return binarize(self.check_images(x01)).reshape(len(x01), -1)

    @torch.no_grad()
    def unnormalised_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """The variational lower bound on log p~(x) (mean field)."""
        return self.variational_bound_unnorm(self.prepare(x))


def _pretrain(layer: RBMLayer, data: torch.Tensor, recipe: dict[str, Any], gen: torch.Generator,
              max_steps: int | None, log: Any, tag: str) -> list[dict[str, float]]:
    from .train import fit_cd

    layer.set_data_statistics(data)
    return fit_cd(layer, data, epochs=recipe["pretrain_epochs"], batch_size=recipe["batch_size"],
                  lr=recipe["lr"] * 2, k=1, persistent=False, weight_decay=recipe["weight_decay"],
                  generator=gen, max_steps=max_steps, log=log, tag=tag)


def train(config: str | dict[str, Any] = "small", *, epochs: int | None = None, seed: int = 0,
          threads: int | None = 1, max_steps: int | None = None, log: Any = print,
          pretrain_epochs: int | None = None, **overrides: Any) -> tuple[DBM, dict[str, Any]]:
    from .train import finish, load_data

    if threads:
        torch.set_num_threads(threads)
    cfg, recipe = get_config("dbm", config), get_recipe("dbm", config)
    recipe.setdefault("pretrain_epochs", recipe["epochs"])
    recipe.setdefault("mean_field_steps", 10)
    recipe.update({k: v for k, v in overrides.items() if v is not None})
    if epochs is not None:
        recipe["epochs"] = epochs
    if pretrain_epochs is not None:
        recipe["pretrain_epochs"] = pretrain_epochs
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    noise = TorchNoise(gen)
    model = DBM(**cfg)
    x01, _ = load_data(cfg["image_size"])
    v_all = model.prepare(x01)
    start = time.perf_counter()

    # 1. greedy pretraining with the doubled RBMs (section 3.1)
    rbm1 = RBMLayer(v_all.shape[1], cfg["hidden1"], up=2.0)
    _pretrain(rbm1, v_all, recipe, gen, max_steps, log, "pretrain 1: ")
    with torch.no_grad():
        h1_data = noise.bernoulli(torch.sigmoid(2 * (v_all @ rbm1.W) + rbm1.c))
    rbm2 = RBMLayer(cfg["hidden1"], cfg["hidden2"], down=2.0)
    _pretrain(rbm2, h1_data, recipe, gen, max_steps, log, "pretrain 2: ")
    with torch.no_grad():
        model.W1.copy_(rbm1.W)
        model.b.copy_(rbm1.b)
        model.W2.copy_(rbm2.W)
        model.c1.copy_((rbm1.c + rbm2.b) / 2)
        model.c2.copy_(rbm2.c)
        p = ((v_all.sum(0) + 1) / (len(v_all) + 2)).clamp(1e-3, 1 - 1e-3)
        model.base_logits.copy_(torch.logit(p))
    pre_s = time.perf_counter() - start

    # 2. joint training: mean-field positive phase, persistent chains for the negative phase
    opt = torch.optim.Adam(model.parameters(), lr=recipe["lr"])
    total = recipe["epochs"] * max(len(v_all) // recipe["batch_size"], 1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(1.0 - s / total, 0.0))  # decay to 0
    chains = model.init_state(recipe["chains"], noise)
    history, step = [], 0
    for epoch in range(recipe["epochs"]):
        perm = torch.randperm(len(v_all), generator=gen)
        running, count = 0.0, 0
        for i in range(0, len(v_all) - recipe["batch_size"] + 1, recipe["batch_size"]):
            v = v_all[perm[i:i + recipe["batch_size"]]]
            with torch.no_grad():
                mu1, mu2 = model.mean_field(v, recipe["mean_field_steps"])
                for _ in range(recipe["k"]):
                    chains = model.gibbs_step(chains, noise)
                nv, nh2 = chains
                nh1 = torch.sigmoid(model.h1_logits(nv, nh2))  # Rao-Blackwellised h1
            loss = model.energy(v, mu1, mu2).mean() - model.energy(nv, nh1, nh2).mean()
            loss = loss + 0.5 * recipe["weight_decay"] * ((model.W1 ** 2).sum() + (model.W2 ** 2).sum())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            running += loss.item()
            count += 1
            step += 1
            if max_steps is not None and step >= max_steps:
                break
        history.append({"epoch": epoch + 1, "loss": round(running / max(count, 1), 5),
                        "seconds": round(time.perf_counter() - start, 1)})
        if log and (epoch + 1) % max(1, recipe["epochs"] // 10) == 0:
            log(f"dbm epoch {epoch + 1:4d}  loss {history[-1]['loss']:+.3f}  {history[-1]['seconds']:.0f}s")
        if max_steps is not None and step >= max_steps:
            break
    with torch.no_grad():  # base for h2: its mean-field marginals on the data
        _, mu2 = model.mean_field(v_all)
        model.base_logits_h2.copy_(torch.logit(mu2.mean(0).clamp(1e-3, 1 - 1e-3)))
    model.eval()
    report = {
        "family": "dbm", "config": cfg,
        "recipe": {
            "data": f"{len(v_all)} digits at {cfg['image_size']}x{cfg['image_size']}, binarised at 0.5",
            "pretraining": f"two doubled RBMs, CD-1, {recipe['pretrain_epochs']} epochs each ({pre_s:.0f}s)",
            "objective": (f"mean-field ({recipe['mean_field_steps']} steps) positive phase, "
                          f"{recipe['chains']} persistent chains ({recipe['k']} Gibbs sweep per update)"),
            "optimizer": (f"Adam lr {recipe['lr']:g} (pretraining: {2 * recipe['lr']:g}, both decaying linearly "
                          f"to 0), weight decay {recipe['weight_decay']:g}"),
            "batch_size": recipe["batch_size"], "epochs": len(history), "seed": seed,
            "device": f"cpu, {torch.get_num_threads()} threads",
        },
        "final": {"loss": history[-1]["loss"]} if history else {},
        "history": history,
    }
    report = finish(model, report, recipe, seed, log)
    report["wall_time_s"] = round(time.perf_counter() - start, 1)
    return model, report
