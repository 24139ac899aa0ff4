"""The DAMSM refinements of scripts/damsm_refine.py (twin batches; which encoder parts train)."""
import pytest
import torch


def test_damsm_refinement_trains_the_text_encoder_only_when_asked():
    import sys
    from pathlib import Path

    from zoo_core.blocks.damsm_model import DAMSMEncoders

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from damsm_refine import refine_damsm

    def run(mode):
        torch.manual_seed(0)
        damsm = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny")
        before = {k: v.clone() for k, v in damsm.state_dict().items()}
        damsm, report = refine_damsm(damsm, steps=2, n=16, mode=mode, log=lambda _: None)
        moved = {k.split(".")[0] + "." + k.split(".")[1] for k, v in damsm.state_dict().items()
                 if v.dtype.is_floating_point and not torch.equal(v, before[k])}
        return moved, report

    heads_only, report = run("heads")
    assert heads_only and all(k.startswith("image_encoder.") and not k.startswith("image_encoder.features")
                              for k in heads_only)
    assert "shape twins" in report["recipe"]["data"] and "colour" not in report["recipe"]["data"]
    for mode in ("text", "order"):
        both, report = run(mode)
        assert any(k.startswith("text_encoder.") for k in both)
        assert not any(k.startswith("image_encoder.features") for k in both)  # the trunk stays frozen
        assert "pair exchanged" in report["recipe"]["data"] and report["recipe"]["mode"] == mode
    assert "and its swap twins (" in report["recipe"]["data"]  # order: swap twins only
    with pytest.raises(ValueError, match="mode must be one of"):
        refine_damsm(DAMSMEncoders(text_encoder="tiny", image_encoder="tiny"), steps=1, n=4, mode="words")


def test_order_refinement_batches_scenes_with_their_swap_twins(monkeypatch):
    import sys
    from pathlib import Path

    from zoo_core.blocks import damsm as damsm_mod
    from zoo_core.blocks.damsm_model import DAMSMEncoders
    from zoo_core.data import shapes

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from damsm_refine import refine_damsm

    seen = []
    real_loss = damsm_mod.damsm_loss

    def spy(*args, class_ids=None, **kw):
        seen.append(class_ids.clone())
        return real_loss(*args, class_ids=class_ids, **kw)

    monkeypatch.setattr(damsm_mod, "damsm_loss", spy)
    n = 24
    refine_damsm(DAMSMEncoders(text_encoder="tiny", image_encoder="tiny"), steps=3, n=n, mode="order",
                 log=lambda _: None)
    train, twins = shapes.generate("train", n), shapes.shape_twins("train", n, change="swap")
    from damsm_common import scene_ids

    classes = scene_ids(torch.cat([train.labels, twins.labels]))
    singles = {i for i, a in enumerate(train.attributes) if a["layout"] in shapes.POSITIONS}
    assert seen and 0 < len(singles) < n
    for ids in seen:
        half, batched = len(ids) // 2, set()
        for scene_class, twin_class in zip(ids[:half].tolist(), ids[half:].tolist()):
            scenes = [i for i in range(n) if classes[i] == scene_class]
            assert scenes and twin_class in {int(classes[n + i]) for i in scenes}  # beside its own swap twin
            batched |= set(scenes)
        assert batched & singles  # single objects stay in (pairs alone lost their positions)
