"""The deep belief net (Hinton, Osindero & Teh 2006): RBMs stacked greedily, each trained on
the hidden probabilities of the one below. The generative model is an RBM over the top two
layers and directed sigmoid belief layers below it:

    p(v, h1, ..., hL) = p(v | h1) p(h1 | h2) ... p(h_{L-2} | h_{L-1}) p_top(h_{L-1}, hL),
    p(h_{k-1} | h_k) = sigmoid(W_k h_k + b_{k-1})  (the generative biases of RBM k).

Sampling runs block Gibbs in the top RBM, then one directed pass down. The likelihood is the
importance-weighted lower bound (Burda et al. 2016; with one sample, the bound of
Salakhutdinov & Murray 2008) with the recognition pass q(h_k | h_{k-1}) = sigmoid(W_k' h_{k-1}
+ c_k) as proposal and log Z of the top RBM from AIS: ``log_prob_is_bound = True``. The
up-down fine-tuning of the paper is not done here.
"""
from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn

from .base import BoltzmannModel, TorchNoise, as_generator, bernoulli_log_prob, binarize
from .config import get_config, get_recipe
from .rbm import RBMLayer


class DBN(BoltzmannModel):
    family = "dbn"
    log_prob_is_bound = True

    def __init__(self, image_size: int = 16, hidden: list[int] | tuple[int, ...] = (256, 200, 400),
                 bound_samples: int = 100) -> None:
        super().__init__()
        hidden = [int(h) for h in hidden]
        if len(hidden) < 2:
            raise ValueError("a DBN needs at least two hidden layers (the top RBM and one below)")
        self.image_size, self.hidden, self.bound_samples = image_size, hidden, bound_samples
        sizes = [image_size * image_size, *hidden]
        self.layers = nn.ModuleList(RBMLayer(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self._init_log_z(1)

    @property
    def top(self) -> RBMLayer:
        return self.layers[-1]

    # -- top RBM: the BoltzmannModel interface (states are h_{L-1}) -----------------------
    def log_unnorm(self, h: torch.Tensor, cond: Any = None, beta: float = 1.0) -> torch.Tensor:
        return self.top.log_unnorm(h, None, beta)

    def base_log_prob(self, h: torch.Tensor, cond: Any = None) -> torch.Tensor:
        return self.top.base_log_prob(h)

    def init_state(self, n: int, noise: TorchNoise, cond: Any = None) -> torch.Tensor:
        return self.top.init_state(n, noise)

    def gibbs_step(self, h: torch.Tensor, noise: TorchNoise, cond: Any = None, beta: float = 1.0) -> torch.Tensor:
        return self.top.gibbs_step(h, noise, None, beta)

    def to_image(self, h: torch.Tensor, noise: TorchNoise, cond: Any = None, mean: bool = True) -> torch.Tensor:
        """The directed pass down from the top RBM's visible layer."""
        for i, layer in enumerate(reversed(self.layers[:-1])):
            probs = layer.p_v_given_h(h)
            last = i == len(self.layers) - 2
            h = probs if (last and mean) else noise.bernoulli(probs)
        return h.reshape(len(h), *self.image_shape)

    # -- likelihood bound -------------------------------------------------------------------
    def prepare(self, x01: torch.Tensor) -> torch.Tensor:
        return binarize(self.check_images(x01)).reshape(len(x01), -1)

    def log_weights(self, v: torch.Tensor, num_samples: int, generator: torch.Generator | None) -> torch.Tensor:
        """log p~(v, h) - log q(h | v) for `num_samples` recognition samples: (K, n)."""
        noise = TorchNoise(generator)
        x = v.unsqueeze(0).expand(num_samples, *v.shape)
        log_w = torch.zeros(num_samples, len(v), dtype=torch.float64, device=v.device)
        for layer in self.layers[:-1]:
            logits_q = layer.hidden_logits(x)
            h = noise.bernoulli(torch.sigmoid(logits_q))
            log_w += (bernoulli_log_prob(x.reshape(-1, x.shape[-1]), layer.visible_logits(h).reshape(-1, x.shape[-1]))
                      - bernoulli_log_prob(h.reshape(-1, h.shape[-1]), logits_q.reshape(-1, h.shape[-1]))
                      ).reshape(num_samples, -1).double()
            x = h
        return log_w + self.top.log_unnorm(x).double()

    @torch.no_grad()
    def unnormalised_log_prob(self, x01: torch.Tensor, num_samples: int | None = None,
                              generator: int | torch.Generator | None = 0) -> torch.Tensor:
        """log (1/K) sum_k p~(v, h^k) / q(h^k | v): a stochastic lower bound on log p~(v)."""
        k = num_samples or self.bound_samples
        log_w = self.log_weights(self.prepare(x01), k, as_generator(generator))
        return torch.logsumexp(log_w, 0) - math.log(k)


def train(config: str | dict[str, Any] = "small", *, epochs: int | None = None, seed: int = 0,
          threads: int | None = 1, max_steps: int | None = None, log: Any = print,
          **overrides: Any) -> tuple[DBN, dict[str, Any]]:
    from .train import finish, fit_cd, load_data

    if threads:
        torch.set_num_threads(threads)
    cfg, recipe = get_config("dbn", config), get_recipe("dbn", config)
    recipe.update({k: v for k, v in overrides.items() if v is not None})
    if epochs is not None:
        recipe["epochs"] = epochs
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = DBN(**cfg)
    x01, _ = load_data(cfg["image_size"])
    data = model.prepare(x01)
    start = time.perf_counter()
    history = []
    for i, layer in enumerate(model.layers):  # greedy, bottom up
        layer.set_data_statistics(data)
        history.append(fit_cd(layer, data, epochs=recipe["epochs"], batch_size=recipe["batch_size"],
                              lr=recipe["lr"], k=recipe["k"], persistent=recipe["persistent"],
                              chains=recipe["chains"], weight_decay=recipe["weight_decay"], generator=gen,
                              max_steps=max_steps, log=log, tag=f"layer {i + 1}: "))
        with torch.no_grad():
            data = layer.p_h_given_v(data)
    model.eval()
    report = {
        "family": "dbn", "config": cfg,
        "recipe": {
            "data": f"{len(x01)} digits at {cfg['image_size']}x{cfg['image_size']}, binarised at 0.5",
            "objective": (f"greedy layer-wise {'PCD' if recipe['persistent'] else 'CD'}-{recipe['k']}, each RBM on the "
                          "hidden probabilities of the one below; no up-down fine-tuning"),
            "optimizer": f"Adam lr {recipe['lr']:g} decaying linearly to 0, weight decay {recipe['weight_decay']:g}",
            "batch_size": recipe["batch_size"], "epochs_per_layer": recipe["epochs"], "seed": seed,
            "bound": f"importance-weighted bound with {model.bound_samples} recognition samples",
            "device": f"cpu, {torch.get_num_threads()} threads",
        },
        "final": {f"layer{i + 1}_cd_loss": h[-1]["loss"] for i, h in enumerate(history) if h},
        "history": history,
    }
    report = finish(model, report, recipe, seed, log)
    report["wall_time_s"] = round(time.perf_counter() - start, 1)
    return model, report
