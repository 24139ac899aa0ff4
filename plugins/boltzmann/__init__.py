"""The Boltzmann machines as one zoo plugin: rbm, gbrbm, crbm, ssrbm, convrbm, dbm, dbn.

Registering the families must stay cheap: nothing here imports torch. Each family samples with
block Gibbs (samplers.py) and scores likelihood with annealed importance sampling (ais.py).
"""
from __future__ import annotations

from typing import Any

from zoo_core.family import Family
from zoo_core.hookspecs import hookimpl

_FAMILIES: dict[str, dict[str, str]] = {
    "rbm": {
        "cls": "rbm:RBM",
        "paper": "https://www.cs.toronto.edu/~hinton/absps/tr00-004.pdf",
        "description": ("Bernoulli restricted Boltzmann machine trained with persistent contrastive divergence; "
                        "block Gibbs sampling; log-likelihood through AIS estimates of log Z"),
    },
    "gbrbm": {
        "cls": "gbrbm:GBRBM",
        "paper": "Cho, Ilin & Raiko 2011, Improved learning of Gaussian-Bernoulli restricted Boltzmann machines (ICANN)",
        "description": ("Gaussian-Bernoulli RBM with learned per-visible standard deviations (Cho et al. 2011) "
                        "on standardised real-valued digits; block Gibbs; AIS likelihood"),
    },
    "crbm": {
        "cls": "crbm:CRBM",
        "paper": "Taylor, Hinton & Roweis 2007, Modeling human motion using binary latent variables (NIPS 19)",
        "description": ("Conditional RBM p(v | y): label-dependent visible and hidden biases; "
                        "`zoo sample crbm --label 3` gives threes; AIS log Z per label"),
    },
    "ssrbm": {
        "cls": "ssrbm:SSRBM",
        "paper": "http://proceedings.mlr.press/v15/courville11a.html",
        "description": ("Spike-and-slab RBM (Courville, Bergstra & Bengio 2011): binary spikes times real slabs "
                        "over real-valued digits; three-block Gibbs; AIS likelihood"),
    },
    "convrbm": {
        "cls": "convrbm:ConvRBM",
        "paper": "https://doi.org/10.1145/1553374.1553453",
        "description": ("Convolutional RBM with shared filters and probabilistic max-pooling (Lee et al. 2009); "
                        "block Gibbs; AIS likelihood"),
    },
    "dbm": {
        "cls": "dbm:DBM",
        "paper": "http://proceedings.mlr.press/v5/salakhutdinov09a.html",
        "description": ("Deep Boltzmann machine with two hidden layers (Salakhutdinov & Hinton 2009): greedy "
                        "pretraining, mean-field inference, persistent chains; log_prob is a variational "
                        "lower bound with an AIS log Z"),
    },
    "dbn": {
        "cls": "dbn:DBN",
        "paper": "https://doi.org/10.1162/neco.2006.18.7.1527",
        "description": ("Deep belief net (Hinton, Osindero & Teh 2006): greedily stacked RBMs; sampling runs Gibbs "
                        "in the top RBM and a directed pass down; log_prob is a variational lower bound"),
    },
}

TASKS = {"crbm": ("class-conditional-image",)}


def model_class(family: str) -> Any:
    """The model class of a family (imports torch)."""
    from zoo_core.lazy import import_object

    return import_object(f"plugins.boltzmann.{_FAMILIES[family]['cls']}")


@hookimpl
def zoo_families() -> list[Family]:
    return [
        Family(
            name=name,
            model_class=f"plugins.boltzmann.{info['cls']}",
            tasks=TASKS.get(name, ("unconditional-image",)),
            paper=info["paper"],
            description=info["description"],
            trainer=f"plugins.boltzmann.train:train_{name}" if name not in ("dbm", "dbn")
            else f"plugins.boltzmann.{name}:train",
        )
        for name, info in _FAMILIES.items()
    ]
