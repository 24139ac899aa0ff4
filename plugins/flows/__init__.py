"""Normalizing flows as a zoo plugin: three families with exact log-likelihoods.

* ``realnvp`` (Dinh, Sohl-Dickstein & Bengio, 2017): affine couplings with checkerboard and
  channel masks, multi-scale.
* ``glow`` (Kingma & Dhariwal, 2018): actnorm, invertible 1x1 convolutions, affine couplings,
  sampling temperature.
* ``maf`` (Papamakarios, Pavlakou & Murray, 2017): stacked MADEs.

All three share one data transform (dequantize.py): K-level discretisation, uniform
dequantisation, the logit transform; ``log_prob`` is exact and ``bits_per_dim`` reports the
discrete bits/dim. Registering the families imports no torch.
"""
from __future__ import annotations

from zoo_core.family import Family
from zoo_core.hookspecs import hookimpl

PAPERS = {
    "realnvp": "https://arxiv.org/abs/1605.08803",
    "glow": "https://arxiv.org/abs/1807.03039",
    "maf": "https://arxiv.org/abs/1705.07057",
}

DESCRIPTIONS = {
    "realnvp": ("RealNVP: multi-scale normalizing flow of affine coupling layers with checkerboard "
                "and channel-wise masks; exact log-likelihood (log_prob, bits_per_dim)"),
    "glow": ("Glow: multi-scale flow of actnorm, invertible 1x1 convolution and affine coupling "
             "steps with learned priors; exact log-likelihood; sampling temperature"),
    "maf": ("Masked autoregressive flow: a stack of MADE layers with alternating orders and batch "
            "norm; exact log-likelihood; sequential sampling"),
}

CLASSES = {"realnvp": "plugins.flows.realnvp:RealNVP", "glow": "plugins.flows.glow:Glow",
           "maf": "plugins.flows.maf:MAF"}


@hookimpl
def zoo_families() -> list[Family]:
    return [
        Family(name=name, model_class=CLASSES[name], tasks=("unconditional-image",), paper=PAPERS[name],
               description=DESCRIPTIONS[name], trainer=f"plugins.flows.train:train_{name}")
        for name in ("realnvp", "glow", "maf")
    ]
