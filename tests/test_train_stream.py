"""scripts/train_stream.py: MirrorGAN's STREAM captioner trained on its own, for -K stream=FOLDER."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))


def test_conv_trunk_captioner_trains_its_trunk_saves_and_reloads(tmp_path):
    from train_stream import train_captioner

    from plugins.mirrorgan.stream import STREAM
    from zoo_core.blocks.damsm_model import DAMSMEncoders

    damsm = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny")
    torch.manual_seed(0)
    fresh = STREAM(len(damsm.vocab), embed_size=128, hidden_size=256, widths=(32, 64, 128, 64),
                   max_words=damsm.max_words, trunk="conv")
    stream, report = train_captioner("conv", 3, damsm=damsm, n=16, batch_size=8, eval_n=8, log=None)
    assert report["steps"] == 3 and report["trunk"] == "conv"
    assert 0.0 <= report["stream_test_true_caption_rate"] <= 1.0 and report["stream_test_caption_ce"] > 0
    trunk = "cnn.features.0.weight"
    assert not torch.equal(stream.state_dict()[trunk], fresh.state_dict()[trunk])  # the trunk trained
    assert not any(p.requires_grad for p in stream.parameters())  # frozen for MirrorGAN's loss
    stream.save(str(tmp_path / "s"))
    again = STREAM.load(str(tmp_path / "s"))
    for k, v in stream.state_dict().items():
        assert torch.equal(v, again.state_dict()[k])


def test_the_script_refuses_to_overwrite_a_folder(tmp_path, capsys):
    from train_stream import main

    (tmp_path / "s").mkdir()
    assert main(["--steps", "1", "--out", str(tmp_path / "s")]) == 2
    assert "exists" in capsys.readouterr().err
