"""scripts/probe_diversity.py: the distances and counts it reports."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from probe_diversity import mean_pairwise_distance, varied_backgrounds  # noqa: E402


def test_distance_is_averaged_within_each_caption_only():
    # group 0: points 0 and 3 apart (distance 3); group 1: identical points, far from group 0
    feats = torch.tensor([[0.0, 0.0], [3.0, 0.0], [100.0, 100.0], [100.0, 100.0]])
    assert mean_pairwise_distance(feats, 2) == pytest.approx(1.5)
    three = torch.tensor([[0.0], [1.0], [3.0]])  # pairs 1, 3, 2
    assert mean_pairwise_distance(three, 3) == pytest.approx(2.0)


def test_background_variety_counts_only_captions_that_leave_it_open():
    bgs = ["white", "black", "gray", "gray", "white", "white"]
    assert varied_backgrounds(bgs, 2, [True, True, True]) == pytest.approx(1 / 3)
    assert varied_backgrounds(bgs, 2, [True, False, False]) == 1.0
    assert varied_backgrounds(bgs, 2, [False, False, False]) == 0.0
