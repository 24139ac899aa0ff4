"""scripts/probe_softened.py: softening removes pixel-level detail and keeps what is larger."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from probe_softened import drawn_and_softened, main, soften  # noqa: E402


def test_a_one_pixel_checkerboard_is_softened_to_flat_grey_and_a_large_square_survives():
    checker = ((torch.arange(64)[:, None] + torch.arange(64)[None, :]) % 2).float().expand(1, 3, 64, 64)
    soft = soften(checker)
    assert soft.shape == (1, 3, 64, 64)
    assert torch.allclose(soft, torch.full_like(soft, 0.5), atol=1e-6)

    square = torch.zeros(1, 3, 64, 64)
    square[..., 16:48, 16:48] = 1.0
    soft = soften(square)
    assert soft[..., 20:44, 20:44].min() == 1.0 and soft[..., :12, :].max() == 0.0


def test_the_score_sees_the_images_as_drawn_then_softened():
    checker = ((torch.arange(8)[:, None] + torch.arange(8)[None, :]) % 2).float().expand(2, 3, 8, 8)
    got = drawn_and_softened(checker, lambda x: {"contrast": float(x.max() - x.min())})
    assert got == {"drawn": {"contrast": 1.0}, "softened": {"contrast": 0.0}}


def test_a_prompt_count_below_one_is_refused_with_a_one_line_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["some-model", "--prompts", "0"])
    assert exit_.value.code == 2
    assert "error: argument --prompts: " in capsys.readouterr().err.strip().splitlines()[-1]
