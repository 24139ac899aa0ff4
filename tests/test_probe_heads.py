"""scripts/probe_heads.py: the discriminators and heads come from the run's state file, and
accuracy is counted per attribute against the labels."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from probe_heads import head_accuracy, load_heads  # noqa: E402

from zoo_core.blocks.attn_discriminators import make_discriminator  # noqa: E402
from zoo_core.blocks.aux_attributes import CLASSES, AttributeHead  # noqa: E402
from zoo_core.training_state import save_training_state  # noqa: E402

MODEL = SimpleNamespace(sizes=[64], ndf=4, text_dim=8)


def saved_state(tmp_path: Path, with_head: bool = True) -> tuple[Path, AttributeHead]:
    torch.manual_seed(0)
    netD = make_discriminator(64, 4, 8)
    head = AttributeHead(netD.df_dim * 8 * 4 * 4)
    with torch.no_grad():  # every attribute reads as its value 1, whatever the image
        head.fc.weight.zero_()
        head.fc.bias.copy_(torch.cat([torch.eye(n)[1] for n in CLASSES]))
    path = tmp_path / "disc.safetensors"
    save_training_state(path, {"netD0": netD, **({"auxD0": head} if with_head else {})}, {})
    return path, head


def test_heads_are_read_from_the_state_file_and_scored_per_attribute(tmp_path):
    path, _ = saved_state(tmp_path)
    netsD, heads = load_heads(str(path), MODEL)
    labels = torch.zeros(8, len(CLASSES), dtype=torch.long)
    labels[:2] = 1  # a quarter of the scenes have value 1 everywhere
    labels[:, 1] = 1  # shape0 is 1 in every scene
    scores = head_accuracy(netsD[0], heads[0], torch.rand(8, 3, 64, 64) * 2 - 1, labels)
    assert scores["shape0"] == 1.0 and scores["shape1"] == 0.25
    assert scores["shapes"] == pytest.approx(0.625, abs=1e-3)
    assert scores["all"] == pytest.approx((1 + 0.25 * (len(CLASSES) - 1)) / len(CLASSES), abs=1e-3)


def test_a_state_without_heads_or_for_another_config_is_a_one_line_error(tmp_path):
    from zoo_core.errors import BadInputError

    path, _ = saved_state(tmp_path, with_head=False)
    with pytest.raises(BadInputError, match="has no auxD0: .* trained with -K d_aux"):
        load_heads(str(path), MODEL)
    path, _ = saved_state(tmp_path)
    with pytest.raises(BadInputError, match="does not fit this model's stage 0"):
        load_heads(str(path), SimpleNamespace(sizes=[64], ndf=8, text_dim=8))
    with pytest.raises(BadInputError, match="no discriminator state at"):
        load_heads(str(tmp_path / "missing.safetensors"), MODEL)
