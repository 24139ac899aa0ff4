"""Memorisation: how close samples sit to their nearest training example, against real held-out data.

For each sample g, d(g) is the RMS pixel distance (L2 / sqrt(C*H*W), images in [0, 1] at the
model's resolution) to its nearest training image; the baseline is the same distance for each
test image. A *near-copy* is a sample closer to the training set than 99% of the held-out test
images are: data drawn like the test split gives a near-copy fraction of about 0.01, a model
that reproduces training images gives much more.
"""
from __future__ import annotations

import torch

QUANTILE = 0.01


def nearest_distances(x: torch.Tensor, train: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """RMS distance from each row of x to its nearest row of train (both flattened)."""
    a = x.flatten(1).double()
    b = train.flatten(1).double()
    out = [torch.cdist(part, b).min(dim=1).values for part in a.split(chunk)]
    return torch.cat(out) / a.shape[1] ** 0.5


def memorization(samples: torch.Tensor, train: torch.Tensor, test: torch.Tensor,
                 quantile: float = QUANTILE) -> dict[str, float]:
    """Near-copy fraction and nearest-neighbour distances of samples vs. the test->train baseline."""
    d_samples = nearest_distances(samples, train)
    d_test = nearest_distances(test, train)
    threshold = float(torch.quantile(d_test, quantile))
    med_s, med_t = float(d_samples.median()), float(d_test.median())
    return {
        "memorization_near_copy_fraction": float((d_samples < threshold).double().mean()),
        "memorization_near_copy_fraction_real": float((d_test < threshold).double().mean()),
        "memorization_threshold": threshold,
        "memorization_nn_distance_median": med_s,
        "memorization_nn_distance_median_real": med_t,
        "memorization_nn_distance_ratio": med_s / med_t if med_t > 0 else float("nan"),
    }
