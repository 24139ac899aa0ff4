"""A tiny family for testing the platform without any real model."""
from __future__ import annotations

import torch
from torch import nn

from zoo_core.family import Family
from zoo_core.hookspecs import hookimpl
from zoo_core.model import GenerativeModel
from zoo_core.sampler import Sampler


class ToyAncestral(Sampler):
    name = "ancestral"
    options = {"scale": (float, 1.0, "noise scale")}

    def __call__(self, model, n, rng, condition):
        z = rng.randn(model.latent) * self.scale
        return model.decode(z)


class ToyZero(Sampler):
    name = "zero"

    def __call__(self, model, n, rng, condition):
        return model.decode(torch.zeros(n, model.latent, device=model.device))


class Toy(GenerativeModel):
    family = "toy"
    samplers = {"ancestral": ToyAncestral, "zero": ToyZero}

    def __init__(self, size: int = 4, latent: int = 8) -> None:
        super().__init__()
        self.size, self.latent = size, latent
        self.net = nn.Sequential(nn.Linear(latent, 32), nn.BatchNorm1d(32), nn.ReLU(),
                                 nn.Linear(32, size * size))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(z)).view(-1, 1, self.size, self.size)


class ToyPlugin:
    """Registered by tests directly on a PluginManager."""

    def __init__(self, models: dict | None = None, families: bool = True) -> None:
        self.models = models or {}
        self.families = families

    @hookimpl
    def zoo_families(self):
        return [Family(name="toy", model_class="tests.toy:Toy", tasks=("unconditional-image",))] \
            if self.families else []

    @hookimpl
    def zoo_models(self):
        return self.models


def make_toy_repo(tmp_path, mirror, repo_id="test-org/toy", seed=0):
    """Save a Toy model into a mirror folder; return its catalog entry."""
    from zoo_core.hub.publish import write_to_mirror

    torch.manual_seed(seed)
    model = Toy().eval()
    src = tmp_path / f"toy-src-{seed}"
    model.save_pretrained(src)
    entry = write_to_mirror(src, mirror, repo_id)
    return {"family": "toy", "task": "unconditional-image", "repo_id": repo_id,
            "revision": entry["revision"], "files": entry["files"], "dataset": "none",
            "default": True, "license": "MIT"}
