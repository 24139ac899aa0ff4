"""scripts/probe_stages.py: every stage is scored, at the classifier's size, until the model
says there are no more."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from probe_stages import stage_scores  # noqa: E402


def test_each_stage_is_resized_to_the_classifier_side_and_scored_in_order():
    from zoo_core.errors import BadInputError

    sides = [16, 32, 64]

    def draw(k):
        if k >= len(sides):
            raise BadInputError("no such stage")
        return torch.full((2, 3, sides[k], sides[k]), k / 4)  # each stage a different flat grey

    seen = []

    def score(x):
        seen.append(tuple(x.shape))
        return {"mean": round(float(x.mean()), 4)}

    scores = stage_scores(draw, score)
    assert seen == [(2, 3, 64, 64)] * 3
    assert [s["mean"] for s in scores] == [0.0, 0.25, 0.5]


def test_a_model_without_stages_past_the_first_gets_one_row():
    from zoo_core.errors import BadInputError

    def draw(k):
        if k:
            raise BadInputError("one stage")
        return torch.zeros(1, 3, 64, 64)

    assert stage_scores(draw, lambda x: {"n": len(x)}) == [{"n": 1}]


def test_probe_counts_below_one_or_not_whole_are_refused_with_a_one_line_error(capsys):
    from probe_stages import main

    for bad in ("0", "-3", "2.5"):
        with pytest.raises(SystemExit) as exit_:
            main(["some-model", "--prompts", bad])
        assert exit_.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert "error: argument --prompts: " in err and bad in err
