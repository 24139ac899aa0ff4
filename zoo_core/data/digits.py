"""scikit-learn's digits (1,797 8x8 grey images, 0..16) as a torch data set.

The split is fixed (a seeded permutation, 1,438 train / 359 test) so every model and metric
in the zoo sees the same held-out images.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

TEST_FRACTION = 0.2
SPLIT_SEED = 0


@functools.lru_cache(maxsize=1)
def _raw() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32) / 16.0
    labels = torch.tensor(bunch.target, dtype=torch.long)
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(SPLIT_SEED))
    return images[perm], labels[perm]


def load_digits(split: str = "train", size: int = 32, with_labels: bool = False):
    """Digits in [0, 1], shape (N, 1, size, size); bilinear upsampling from 8x8.

    With ``with_labels`` returns (images, labels).
    """
    images, labels = _raw()
    n_test = int(round(len(images) * TEST_FRACTION))
    sl = slice(len(images) - n_test, None) if split == "test" else slice(0, len(images) - n_test)
    x = images[sl].unsqueeze(1)
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    return (x, labels[sl]) if with_labels else x
