"""Density and coverage (Naeem, Oh, Uh, Choi & Yoo, ICML 2020, arXiv:2002.09797).

With k-nearest-neighbour balls B(x_i, r_i) around the real features (r_i: distance from x_i to
its k-th nearest other real feature):

    density  = 1/(k M) * sum_j sum_i 1[y_j in B(x_i, r_i)]      (can exceed 1)
    coverage = 1/N * sum_i 1[exists j: y_j in B(x_i, r_i)]       (in [0, 1])

for N real features x and M fake features y. Unlike precision/recall they are robust to outliers
in the real set, and for two samples of one distribution both have expectation about 1.
"""
from __future__ import annotations

import torch

K = 5  # the paper's recommended neighbourhood size


def _kth_neighbour_radius(x: torch.Tensor, k: int, chunk: int = 4096) -> torch.Tensor:
    out = []
    for part in x.split(chunk):
        d = torch.cdist(part.double(), x.double())
        out.append(d.kthvalue(k + 1, dim=1).values)  # +1: the point itself sits at distance 0
    return torch.cat(out)


def density_coverage(real: torch.Tensor, fake: torch.Tensor, k: int = K, chunk: int = 4096) -> dict[str, float]:
    """{"density", "coverage"} of fake features against real features (both (n, d))."""
    if len(real) <= k:
        raise ValueError(f"density/coverage with k={k} needs more than {k} real examples, got {len(real)}")
    radii = _kth_neighbour_radius(real, k, chunk)
    inside_count = torch.zeros(len(real), dtype=torch.float64)  # balls hit, per real point
    hits = 0.0
    for part in fake.split(chunk):
        inside = torch.cdist(part.double(), real.double()) < radii[None, :]
        hits += float(inside.sum())
        inside_count += inside.sum(0).double()
    density = hits / (k * len(fake))
    coverage = float((inside_count > 0).double().mean())
    return {"density": density, "coverage": coverage}
