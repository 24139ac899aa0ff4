"""AttnGAN training: one step, continuing runs, discriminator state, twin hard negatives,
best-check selection, the DAMSM term and recipe values from the command line."""
from __future__ import annotations

import pytest
import torch

from plugins.attngan.config import TINY
from plugins.attngan.model import AttnGAN


def test_one_training_step_moves_the_generator_only():
    from plugins.attngan.train import train
    from zoo_core.blocks.damsm_model import DAMSMEncoders
    from zoo_core.data.shapes import load_shapes

    torch.manual_seed(0)
    damsm = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny")
    x, caps, labels = load_shapes("train", with_captions=True, with_attributes=True, n=8)
    torch.manual_seed(0)
    before = AttnGAN(**{**TINY, "vocab": list(damsm.vocab.words), "text_encoder": "tiny"})
    model, report = train("tiny", steps=1, data=(x, caps, labels), damsm=damsm, batch_size=3, log=None)
    assert report["recipe"]["steps"] == 1 and report["recipe"]["batch_size"] == 3
    assert report["recipe"]["device"].startswith("cpu") and model.device.type == "cpu"
    final = report["final"]
    assert final["w_loss"] > 0 and final["s_loss"] > 0 and final["adv_g"] > 0
    te = {k: v for k, v in model.state_dict().items() if k.startswith("text_encoder.")}
    assert all(torch.equal(v, damsm.state_dict()[k]) for k, v in te.items())  # frozen DAMSM text encoder
    moved = [k for k, v in model.state_dict().items()
             if not k.startswith("text_encoder.") and v.dtype.is_floating_point
             and not torch.equal(v, before.state_dict()[k])]
    assert any(k.startswith("h_net2.att.") for k in moved) and any(k.startswith("ca_net.") for k in moved)


def test_trainer_continues_a_saved_generator(tmp_path):
    from plugins.attngan.train import train
    from zoo_core.blocks.damsm_model import DAMSMEncoders
    from zoo_core.data.shapes import load_shapes

    torch.manual_seed(0)
    damsm = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny")
    data = load_shapes("train", with_captions=True, with_attributes=True, n=8)
    first, _ = train("tiny", steps=1, data=data, damsm=damsm, log=None)
    first.save_pretrained(tmp_path / "run")
    again, report = train("tiny", steps=1, seed=1, data=data, damsm=damsm, init_from=str(tmp_path / "run"), log=None)
    fresh, _ = train("tiny", steps=1, seed=1, data=data, damsm=damsm, log=None)
    w = "ca_net.fc.weight"
    near = (again.state_dict()[w] - first.state_dict()[w]).abs().max()
    far = (fresh.state_dict()[w] - first.state_dict()[w]).abs().max()
    assert near < 0.1 * far and report["recipe"]["warm_start"] == str(tmp_path / "run")
    # continued against other DAMSM encoders, the generator reads their text encoder, not the saved one
    torch.manual_seed(1)
    other = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny")
    moved, report = train("tiny", steps=1, data=data, damsm=other, init_from=str(tmp_path / "run"), log=None)
    te = [k for k in moved.state_dict() if k.startswith("text_encoder.")]
    assert te and all(torch.equal(moved.state_dict()[k], other.state_dict()[k]) for k in te)
    assert "the DAMSM encoders given" in report["recipe"]["text_encoder"]


def test_disc_state_carries_the_discriminators_and_moments_to_the_next_run(tmp_path):
    from safetensors.torch import load_file

    from plugins.attngan.train import train
    from zoo_core.blocks.damsm_model import DAMSMEncoders
    from zoo_core.data.shapes import load_shapes

    torch.manual_seed(0)
    damsm = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny")
    data = load_shapes("train", with_captions=True, with_attributes=True, n=8)
    state = tmp_path / "disc.safetensors"
    train("tiny", steps=1, data=data, damsm=damsm, disc_state=str(state), log=None)
    first = load_file(str(state))
    assert any(k.startswith("netD0/") for k in first) and any(k.startswith("opt_d0@") for k in first)
    assert any(k.startswith("opt_g@") and k.endswith("/exp_avg") for k in first)
    train("tiny", steps=1, seed=1, data=data, damsm=damsm, disc_state=str(state), log=None)
    second = load_file(str(state))
    steps = [k for k in second if k.startswith("opt_d0@") and k.endswith("/step")]
    assert steps and all(float(second[k]) == 2.0 for k in steps)  # the second run went on from the first
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_continued_generator_grows_residual_blocks_as_identity(tmp_path):
    from safetensors.torch import load_file

    from plugins.attngan.train import train
    from zoo_core.blocks.damsm_model import DAMSMEncoders
    from zoo_core.data.shapes import load_shapes

    torch.manual_seed(0)
    small = AttnGAN(**{**TINY, "r_num": 1}).eval()
    grown = AttnGAN(**{**TINY, "r_num": 2})
    assert grown.load_growing(small.state_dict()) == ["h_net2.residual.1"]
    prompt = ["a red circle"] * 2
    assert torch.equal(small.sample(2, prompt=prompt, generator=0).data,
                       grown.eval().sample(2, prompt=prompt, generator=0).data)
    with pytest.raises(ValueError, match="only residual blocks"):
        AttnGAN(**{**TINY, "r_num": 1}).load_growing(grown.state_dict())
    with pytest.raises(ValueError, match="r_num"):
        train("tiny", steps=1, r_num=0, log=None)

    damsm = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny")
    data = load_shapes("train", with_captions=True, with_attributes=True, n=8)
    state = tmp_path / "disc.safetensors"
    first, _ = train({**TINY, "r_num": 1}, steps=1, data=data, damsm=damsm, disc_state=str(state), log=None)
    first.save_pretrained(tmp_path / "run")
    lines: list[str] = []
    model, report = train({**TINY, "r_num": 1}, steps=1, data=data, damsm=damsm, init_from=str(tmp_path / "run"),
                          disc_state=str(state), r_num=2, log=lines.append)
    assert model.r_num == 2 and "h_net2.residual.1" in report["recipe"]["warm_start"]
    assert any("start fresh" in line for line in lines)
    saved = load_file(str(state))  # the discriminators went on; G's moments began again
    assert all(float(saved[k]) == 2.0 for k in saved if k.startswith("opt_d0@") and k.endswith("/step"))
    assert all(float(saved[k]) == 1.0 for k in saved if k.startswith("opt_g@") and k.endswith("/step"))


def test_shape_twin_batches_and_training_with_twin_negatives():
    from plugins.attngan.train import train
    from zoo_core.blocks.attn_shapes import shapes_data
    from zoo_core.blocks.damsm_model import DAMSMEncoders
    from zoo_core.data.shapes import load_shapes, shape_twins

    torch.manual_seed(0)
    damsm = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny")
    x, caps, labels = load_shapes("train", with_captions=True, with_attributes=True, n=8)
    twins = shape_twins("train", 8).captions
    model = AttnGAN(**{**TINY, "vocab": list(damsm.vocab.words), "text_encoder": "tiny"})
    data = shapes_data(model, (x, caps, labels, twins), twins=True)
    b = data.batch(torch.tensor([5, 2]), torch.Generator().manual_seed(0))
    assert b["twin_ids"].shape == b["ids"].shape  # padded alike, so both encode in one width
    for row, i in enumerate((5, 2)):
        own, twin = damsm.vocab.decode(b["ids"][row].tolist()), damsm.vocab.decode(b["twin_ids"][row].tolist())
        k = caps[i].index(own)  # the same caption slot of the scene and of its twin
        assert twin == twins[i][k] and twin != own
    with pytest.raises(ValueError, match="twin captions"):
        shapes_data(model, (x, caps, labels), twins=True)

    _, report = train("tiny", steps=2, data=(x, caps, labels, twins), damsm=damsm, twin_negatives="d+damsm", log=None)
    assert report["recipe"]["hard_negatives"].startswith("shape-twin") and 0 < report["final"]["d_twin"] < 1
    _, d_only = train("tiny", steps=2, data=(x, caps, labels, twins), damsm=damsm, twin_negatives="d", log=None)
    first = lambda r: r["history"][0]  # noqa: E731  (step 1: same D, so only G's DAMSM term differs)
    assert first(d_only)["d_twin"] == first(report)["d_twin"] and first(d_only)["w_loss"] != first(report)["w_loss"]
    _, plain = train("tiny", steps=2, data=(x, caps, labels), damsm=damsm, log=None)
    assert plain["recipe"]["hard_negatives"] is None and "d_twin" not in plain["final"]
    with pytest.raises(ValueError, match="twin_negatives must be one of"):
        train("tiny", steps=1, data=(x, caps, labels, twins), damsm=damsm, twin_negatives="yes", log=None)


def test_keep_best_ends_with_the_best_checked_weights():
    from plugins.attngan.train import train
    from zoo_core.blocks.damsm_model import DAMSMEncoders
    from zoo_core.data.shapes import load_shapes

    torch.manual_seed(0)
    damsm = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny")
    data = load_shapes("train", with_captions=True, with_attributes=True, n=8)
    scores = iter([0.9, 0.2, 0.5, 0.3])  # checks after steps 1, 2, 3, then the final score

    def stub(model):
        s = next(scores)
        return {"caption_accuracy": s, "caption_accuracy_shape0": s}

    best, report = train("tiny", steps=3, data=data, damsm=damsm, evaluate=stub, eval_every=1, keep_best=True, log=None)
    assert report["recipe"]["snapshot"].startswith("the averaged weights at step 1,")
    one, _ = train("tiny", steps=1, data=data, damsm=damsm, log=None)
    last, plain = train("tiny", steps=3, data=data, damsm=damsm, log=None)
    assert plain["recipe"]["snapshot"] == "the averaged weights at the last step"
    w = "ca_net.fc.weight"
    assert torch.equal(best.state_dict()[w], one.state_dict()[w]) and not torch.equal(best.state_dict()[w], last.state_dict()[w])
    assert all(torch.equal(v, one.state_dict()[k]) for k, v in best.state_dict().items())  # BN statistics too
    from zoo_core.blocks.attn_shapes import shapes_data
    from zoo_core.blocks.attn_training import train_attentional

    with pytest.raises(ValueError, match="keep_best needs an evaluator"):
        train_attentional(best, shapes_data(best, data), extra_loss=None, steps=1, keep_best=True, log=None)


def test_snapshot_checks_use_training_captions_and_the_report_test_captions():
    from zoo_core.blocks.attn_shapes import evaluators

    during, final = evaluators(None, by_default=False, keep_best=True)
    assert "500 train images" in during.prompts and "500 test images" in final.prompts
    during, final = evaluators(None, by_default=True, keep_best=False)
    assert during is final and "test images" in final.prompts
    assert evaluators(None, by_default=False, keep_best=False) == (None, None)
    stub = lambda model: {}  # noqa: E731
    assert evaluators(stub, by_default=True, keep_best=True) == (stub, stub)


def tiny_damsm_and_model() -> tuple:
    """Random tiny DAMSM encoders and a tiny AttnGAN reading their text encoder (seeded)."""
    from zoo_core.blocks.damsm_model import DAMSMEncoders

    torch.manual_seed(0)
    damsm = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny").eval()
    model = AttnGAN(**{**TINY, "vocab": list(damsm.vocab.words), "text_encoder": "tiny"})
    model.use_text_encoder(damsm)
    return damsm, model


def test_damsm_term_with_twins_only_changes_the_image_to_text_halves():
    from plugins.attngan.train import damsm_loss_term

    damsm, model = tiny_damsm_and_model()
    text = model.encode_prompts(["a red circle", "a blue square above a green star", "a big pink cross"])
    images = torch.rand(3, 3, 64, 64) * 2 - 1
    out = type("Out", (), {"images": [images]})()
    batch = {"class_ids": None}
    plain = damsm_loss_term(damsm, 1.0)(model, out, batch, text)[1]
    same = damsm_loss_term(damsm, 1.0, twins=True)(model, out, {**batch, "twin_text": text}, text)[1]
    ignored = damsm_loss_term(damsm, 1.0)(model, out, {**batch, "twin_text": text}, text)[1]
    assert ignored == plain  # twins off: the batch's twin captions are not read
    # a twin identical to the caption scores the same, so each image's caption loses probability
    assert same["w_loss"] > plain["w_loss"] and same["s_loss"] > plain["s_loss"]
    regions, code = damsm.image_encoder(images)
    from zoo_core.blocks.damsm import GAMMA3, losses_with_twins, sent_loss, sentence_scores

    s0, s1 = sent_loss(code, text.sentence)
    t0, t1 = losses_with_twins(sentence_scores(code, torch.cat([text.sentence, text.sentence])) * GAMMA3)
    assert torch.allclose(t1, s1) and t0 > s0  # the text -> image half is the plain one


def test_damsm_soften_has_the_image_encoder_read_the_images_softened():
    from plugins.attngan.train import damsm_loss_term
    from zoo_core.blocks.damsm import sent_loss, words_loss
    from zoo_core.blocks.soften import soften

    damsm, model = tiny_damsm_and_model()
    text = model.encode_prompts(["a red circle", "a blue square above a green star"])
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    out = type("Out", (), {"images": [images]})()
    loss, stats = damsm_loss_term(damsm, 2.0, softened=True)(model, out, {"class_ids": None}, text)
    regions, code = damsm.image_encoder(soften(images))
    w0, w1, _ = words_loss(regions, text.words, text.lengths, None)
    s0, s1 = sent_loss(code, text.sentence, None)
    assert torch.allclose(loss, 2.0 * (w0 + w1 + s0 + s1))
    assert stats != damsm_loss_term(damsm, 2.0)(model, out, {"class_ids": None}, text)[1]


def test_damsm_first_scores_the_first_stage_resized_up_as_well():
    import torch.nn.functional as F

    from plugins.attngan.train import damsm_loss_term

    damsm, model = tiny_damsm_and_model()
    text = model.encode_prompts(["a red circle", "a blue square above a green star"])
    coarse, last = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 64, 64) * 2 - 1
    out = type("Out", (), {"images": [coarse, last]})()
    batch = {"class_ids": None}
    plain, plain_stats = damsm_loss_term(damsm, 2.0)(model, out, batch, text)
    both, stats = damsm_loss_term(damsm, 2.0, first=3.0)(model, out, batch, text)
    up = type("Out", (), {"images": [F.interpolate(coarse, size=(64, 64), mode="bilinear", align_corners=False)]})()
    alone = damsm_loss_term(damsm, 1.0)(model, up, batch, text)[0]
    assert torch.allclose(both, plain + 3.0 * alone)
    assert stats["w_loss"] == plain_stats["w_loss"] and "w0_loss" in stats and "w0_loss" not in plain_stats
    one_stage = type("Out", (), {"images": [last]})()  # nothing coarser to score
    assert torch.equal(damsm_loss_term(damsm, 2.0, first=3.0)(model, one_stage, batch, text)[0],
                       damsm_loss_term(damsm, 2.0)(model, one_stage, batch, text)[0])


def test_recipe_values_from_the_command_line_reach_the_objective():
    from plugins.attngan.config import TRAINING
    from plugins.attngan.train import train
    from zoo_core.blocks.attn_training import recipe_with
    from zoo_core.blocks.damsm_model import DAMSMEncoders
    from zoo_core.data.shapes import load_shapes

    hp = recipe_with(TRAINING, 32, damsm_lambda=50, lr_g=1e-4, lr_d=None)
    assert (hp["batch_size"], hp["damsm_lambda"], hp["lr_g"], hp["lr_d"]) == (32, 50.0, 1e-4, TRAINING["lr_d"])
    with pytest.raises(ValueError, match="this recipe has no lr_x; it has"):
        recipe_with(TRAINING, None, lr_x=1e-4)
    for bad in (0, -1, "high", True):
        with pytest.raises(ValueError, match="damsm_lambda must be a positive number"):
            recipe_with(TRAINING, None, damsm_lambda=bad)
    assert recipe_with({**TRAINING, "mode_seeking": 1.0}, None, mode_seeking=0)["mode_seeking"] == 0.0  # off again
    with pytest.raises(ValueError, match="mode_seeking must be zero or more"):
        recipe_with(TRAINING, None, mode_seeking=-1)

    torch.manual_seed(0)
    damsm = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny")
    data = load_shapes("train", with_captions=True, with_attributes=True, n=8)
    _, five = train("tiny", steps=1, data=data, damsm=damsm, log=None)
    _, fifty = train("tiny", steps=1, data=data, damsm=damsm, damsm_lambda=50, lr_g=1e-4, kl_weight=0.5, log=None)
    assert fifty["recipe"]["optimizer"].startswith("Adam lr G 0.0001, D 0.0002")
    assert "+ 50 x DAMSM" in fifty["recipe"]["objective"] and "+ 5 x DAMSM" in five["recipe"]["objective"]
    assert "first stage" not in five["recipe"]["objective"]
    _, coarse = train("tiny", steps=1, data=data, damsm=damsm, damsm_first=2, log=None)
    assert "+ 2 x DAMSM (first stage, resized up)" in coarse["recipe"]["objective"]
    with pytest.raises(ValueError, match="damsm_first must be zero or more"):
        recipe_with(TRAINING, None, damsm_first=-1)
    assert "+ 0.5 x KL(CA)" in fifty["recipe"]["objective"] and "+ 1 x KL(CA)" in five["recipe"]["objective"]
    g5, g50 = five["history"][0], fifty["history"][0]
    damsm5 = 5 * (g5["w_loss"] + g5["s_loss"])
    assert g50["kl"] == pytest.approx(g5["kl"])  # the same first step: only the weights differ
    assert g50["loss_g"] - g5["loss_g"] == pytest.approx(10 * damsm5 - damsm5 - 0.5 * g5["kl"], rel=1e-3)


def test_twin_kinds_mix_caption_slots_and_are_checked():
    from plugins.attngan.train import train
    from zoo_core.blocks.attn_shapes import shapes_data, twin_kinds
    from zoo_core.blocks.damsm_model import DAMSMEncoders
    from zoo_core.data.shapes import load_shapes, shape_twins

    assert twin_kinds(None) == ("shape",) and twin_kinds("shape, swap") == ("shape", "swap")
    for bad in ("size", "shape,shape", ""):
        with pytest.raises(ValueError, match="twin_kinds takes distinct kinds among shape, colour, swap"):
            twin_kinds(bad)
    damsm = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny")
    model = AttnGAN(**{**TINY, "vocab": list(damsm.vocab.words), "text_encoder": "tiny"})
    data = shapes_data(model, n=8, twins=True, kinds=("shape", "swap"))
    shape, swap = (shape_twins("train", 8, change=k).captions for k in ("shape", "swap"))
    for i in range(8):
        for j in range(5):  # even caption slots from the shape twin, odd ones from the swap twin
            want = (shape if j % 2 == 0 else swap)[i][j]
            assert damsm.vocab.decode(data.twin_ids[i, j].tolist()) == want

    x, caps, labels = load_shapes("train", with_captions=True, with_attributes=True, n=8)
    with pytest.raises(ValueError, match="twin_kinds needs twin_negatives"):
        train("tiny", steps=1, data=(x, caps, labels), damsm=damsm, twin_kinds="swap", log=None)
    _, report = train("tiny", steps=1, data=(x, caps, labels, swap), damsm=damsm, twin_negatives="d",
                      twin_kinds="swap", log=None)
    note = report["recipe"]["hard_negatives"]
    assert note.startswith("twin captions as extra mismatched pairs") and note.endswith("twins: swap")


def test_discriminator_warmup_keeps_the_generator_and_ndf_widens_the_discriminators(tmp_path):
    from safetensors.torch import load_file

    from plugins.attngan.config import TRAINING
    from plugins.attngan.train import train
    from zoo_core.blocks.attn_training import recipe_with
    from zoo_core.blocks.damsm_model import DAMSMEncoders
    from zoo_core.data.shapes import load_shapes

    assert recipe_with(TRAINING, None, d_warmup=0)["d_warmup"] == 0
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="d_warmup must be a whole number of at least 0"):
            recipe_with(TRAINING, None, d_warmup=bad)
    with pytest.raises(ValueError, match="ndf must be a whole number"):
        train("tiny", steps=1, ndf=0, log=None)

    torch.manual_seed(0)
    damsm = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny")
    data = load_shapes("train", with_captions=True, with_attributes=True, n=8)
    first, _ = train("tiny", steps=1, data=data, damsm=damsm, log=None)
    first.save_pretrained(tmp_path / "run")
    state = tmp_path / "disc.safetensors"
    params = lambda m: {n: p.detach().clone() for n, p in m.named_parameters()}  # noqa: E731
    warmed, report = train("tiny", steps=2, d_warmup=2, ndf=8, data=data, damsm=damsm, init_from=str(tmp_path / "run"),
                           disc_state=str(state), log=None)
    before = params(first)
    assert all(torch.equal(p, before[n]) for n, p in params(warmed).items())  # G untouched while D warms up
    saved = load_file(str(state))
    assert all(float(saved[k]) == 2.0 for k in saved if k.startswith("opt_d0@") and k.endswith("/step"))
    assert not any(k.startswith("opt_g@") and k.endswith("/step") for k in saved)
    assert saved["netD0/img_code_s16.0.weight"].shape[0] == 8  # ndf 8, not TINY's 4
    assert report["recipe"]["discriminator_warmup"].startswith("the first 2 steps") and report["config"]["ndf"] == 8
    moved, _ = train("tiny", steps=3, d_warmup=2, data=data, damsm=damsm, init_from=str(tmp_path / "run"), log=None)
    assert any(not torch.equal(p, before[n]) for n, p in params(moved).items())  # then G trains
