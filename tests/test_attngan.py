"""AttnGAN: paper size, stages, word attention, DAMSM training step, persistence, seeding, OOV
prompts, and the converter against a reference written with the original's names and forward."""
from __future__ import annotations

import pickle

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from plugins.attngan.config import PAPER, TINY
from plugins.attngan.model import AttnGAN
from zoo_core.blocks.text_to_image import TextFeatures
from zoo_core.errors import BadInputError

from .original_layouts import CA_NET, GET_IMAGE_G, INIT_STAGE_G, ResBlock, upBlock

PROMPTS = ["a big red circle", "a small blue square above a yellow triangle on a white background"]


def tiny(**kw) -> AttnGAN:
    torch.manual_seed(0)
    return AttnGAN(**{**TINY, **kw}).eval()


def test_paper_generator_has_the_reference_parameter_count():
    with torch.device("meta"):  # sizes only: no memory, no initialisation
        model = AttnGAN(**PAPER)
    assert model.num_generator_parameters() == 7_084_592  # AttnGAN CUB G_NET (Xu et al. 2018)
    # the text encoder is separate from G_NET's count
    assert model.num_parameters() == 7_084_592 + sum(p.numel() for p in model.text_encoder.parameters())


def test_every_stage_doubles_the_resolution_and_returns_word_attention():
    model = tiny()
    text = model.encode_prompts(PROMPTS)
    out = model.generate(torch.randn(2, model.z_dim), text, eps=torch.randn(2, model.c_dim))
    assert len(out.images) == model.branch_num
    for i, img in enumerate(out.images):
        assert img.shape == (2, 3, model.init_size * 2 ** i, model.init_size * 2 ** i)
        assert img.min() >= -1 and img.max() <= 1
    T = text.ids.shape[1]
    assert [a.shape for a in out.attention] == [(2, T, model.init_size * 2 ** i, model.init_size * 2 ** i)
                                                for i in range(model.branch_num - 1)]
    assert out.mu.shape == out.logvar.shape == (2, model.c_dim)


def test_attention_sums_to_one_over_words_and_ignores_padding():
    model = tiny()
    text = model.encode_prompts(PROMPTS)
    att = model.generate(torch.randn(2, model.z_dim), text).attention[-1]
    assert torch.allclose(att.sum(1), torch.ones_like(att.sum(1)), atol=1e-5)
    short = int(text.lengths[0])
    assert short < text.ids.shape[1]
    assert att[0, short:].abs().max() == 0  # padded words get no attention
    assert att[0, :short].min() > 0


def test_first_stage_reads_the_sentence_later_stages_read_the_words():
    model = tiny()
    text = model.encode_prompts(PROMPTS[:1])
    other = TextFeatures(words=torch.randn_like(text.words), sentence=text.sentence, ids=text.ids,
                         lengths=text.lengths)
    z, eps = torch.randn(1, model.z_dim), torch.randn(1, model.c_dim)
    a, b = model.generate(z, text, eps=eps), model.generate(z, other, eps=eps)
    assert torch.equal(a.images[0], b.images[0])
    assert not torch.allclose(a.images[-1], b.images[-1])


def test_save_load_round_trip_and_seeded_sampling(tmp_path):
    import zoo_core as zoo

    model = tiny()
    model.save_pretrained(tmp_path / "m")
    loaded = zoo.load(str(tmp_path / "m"))
    assert type(loaded) is AttnGAN and loaded.vocab.words == model.vocab.words
    s1 = model.sample(4, prompt=PROMPTS, generator=3)
    s2 = loaded.sample(4, prompt=PROMPTS, generator=3)
    assert torch.equal(s1.data, s2.data)
    # sample i depends on (seed, i); the other prompts of its batch only change the float
    # rounding (the captions are padded to the batch's longest and batched through the LSTM)
    assert torch.allclose(loaded.sample(2, prompt=PROMPTS, generator=3).data, s1.data[:2], atol=1e-5)
    assert not torch.equal(loaded.sample(4, prompt=PROMPTS, generator=4).data, s1.data)


def test_out_of_vocabulary_prompt_names_the_word():
    model = tiny()
    with pytest.raises(BadInputError, match="zebra"):
        model.sample(1, prompt="a big zebra circle", generator=0)


def test_attention_extras_reach_the_sampler_output():
    model = tiny()
    s = model.sample(2, prompt=PROMPTS, generator=0, attention=True)
    maps = s.extras["attention"]
    assert maps.shape[:3] == (2, model.encode_prompts(PROMPTS).ids.shape[1], 3)
    assert maps.shape[-2:] == s.data.shape[-2:]
    assert s.extras["attention_words"][0] == PROMPTS[0].split()


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


# -- the converter against the original's layout and forward ---------------------------------
class RefAttention(nn.Module):
    """GlobalAttentionGeneral as the original computes it (applyMask, repeat, flat softmax)."""

    def __init__(self, idf, cdf):
        super().__init__()
        self.conv_context = nn.Conv2d(cdf, idf, 1, 1, 0, bias=False)
        self.mask = None

    def applyMask(self, mask):
        self.mask = mask

    def forward(self, input, context):
        ih, iw = input.size(2), input.size(3)
        queryL = ih * iw
        batch_size, sourceL = context.size(0), context.size(2)
        targetT = input.view(batch_size, -1, queryL).transpose(1, 2).contiguous()
        sourceT = self.conv_context(context.unsqueeze(3)).squeeze(3)
        attn = torch.bmm(targetT, sourceT).view(batch_size * queryL, sourceL)
        if self.mask is not None:
            # the original repeats the mask with mask.repeat(queryL, 1), which lines up with the
            # batch*queryL rows only for a batch of one; row-wise is the meaning, used here
            attn = attn.masked_fill(self.mask.repeat_interleave(queryL, 0), -float("inf"))
        attn = F.softmax(attn, dim=1).view(batch_size, queryL, sourceL).transpose(1, 2).contiguous()
        weighted = torch.bmm(sourceT, attn).view(batch_size, -1, ih, iw)
        return weighted, attn.view(batch_size, -1, ih, iw)


class RefNext(nn.Module):
    def __init__(self, ngf, nef, r_num):
        super().__init__()
        self.att = RefAttention(ngf, nef)
        self.residual = nn.Sequential(*[ResBlock(ngf * 2) for _ in range(r_num)])
        self.upsample = upBlock(ngf * 2, ngf)

    def forward(self, h_code, c_code, word_embs, mask):
        self.att.applyMask(mask)
        c, att = self.att(h_code, word_embs)
        return self.upsample(self.residual(torch.cat((h_code, c), 1))), att


class RefG_NET(nn.Module):
    def __init__(self, ngf, nef, ncf, z_dim, branch_num, r_num):
        super().__init__()
        self.branch_num = branch_num
        self.ca_net = CA_NET(nef, ncf)
        self.h_net1, self.img_net1 = INIT_STAGE_G(ngf * 16, z_dim + ncf), GET_IMAGE_G(ngf)
        for i in range(2, branch_num + 1):
            setattr(self, f"h_net{i}", RefNext(ngf, nef, r_num))
            setattr(self, f"img_net{i}", GET_IMAGE_G(ngf))

    def forward(self, z_code, sent_emb, word_embs, mask, eps):
        c_code, mu, logvar = self.ca_net(sent_emb, eps)
        h = self.h_net1(z_code, c_code)
        imgs, atts = [self.img_net1(h)], []
        for i in range(2, self.branch_num + 1):
            h, att = getattr(self, f"h_net{i}")(h, c_code, word_embs, mask)
            imgs.append(getattr(self, f"img_net{i}")(h))
            atts.append(att)
        return imgs, atts, mu, logvar


class RefRNN(nn.Module):
    """RNN_ENCODER's parameters under its names (encoder, rnn)."""

    def __init__(self, ntoken, ninput, nhidden):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, ninput)
        self.rnn = nn.LSTM(ninput, nhidden // 2, 1, batch_first=True, bidirectional=True)


def randomise(module: nn.Module) -> None:
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.dtype.is_floating_point:
                if name.endswith("running_var"):
                    t.uniform_(0.5, 1.5)
                else:
                    t.normal_(0, 0.3)


@pytest.fixture
def original_files(tmp_path):
    torch.manual_seed(1)
    words = ["<end>", "this", "bird", "is", "red", "with", "a", "black", "beak", "small", "yellow"]
    nef = 12
    ref = RefG_NET(ngf=TINY["ngf"], nef=nef, ncf=TINY["ncf"], z_dim=TINY["z_dim"], branch_num=TINY["branch_num"],
                   r_num=TINY["r_num"]).eval()
    randomise(ref)
    rnn = RefRNN(len(words), 10, nef)
    randomise(rnn)
    torch.save(ref.state_dict(), tmp_path / "netG.pth")
    torch.save(rnn.state_dict(), tmp_path / "text_encoder200.pth")
    ixtoword = dict(enumerate(words))
    with open(tmp_path / "captions.pickle", "wb") as f:
        pickle.dump([[[1, 2]], [[1, 2]], ixtoword, {w: i for i, w in ixtoword.items()}], f, protocol=2)
    return tmp_path, ref, rnn


def test_converter_reproduces_the_original_forward(original_files):
    from plugins.attngan.convert import convert

    d, ref, rnn = original_files
    model = convert(d / "netG.pth", text_encoder=str(d / "text_encoder200.pth"), captions=str(d / "captions.pickle"),
                    config="tiny")
    assert torch.equal(model.text_encoder.encoder.weight, rnn.encoder.weight)
    text = model.encode_prompts(["this bird is red with a black beak", "a small yellow bird"])
    z, eps = torch.randn(2, model.z_dim), torch.randn(2, model.c_dim)
    out = model.generate(z, text, eps=eps)
    with torch.no_grad():
        imgs, atts, mu, logvar = ref(z, text.sentence, text.words, text.ids == 0, eps)
    for a, b in zip(out.images, imgs):
        assert torch.allclose(a, b, atol=1e-5)
    for a, b in zip(out.attention, atts):
        assert torch.allclose(a, b, atol=1e-5)
    assert torch.allclose(out.mu, mu, atol=1e-5) and torch.allclose(out.logvar, logvar, atol=1e-5)


def test_convert_cli_then_sample_the_folder_with_attention(original_files, capsys):
    from zoo_core.cli import main

    d, _, _ = original_files
    out = d / "attngan-cub"
    assert main(["convert", "attngan", str(d / "netG.pth"), "--text-encoder", str(d / "text_encoder200.pth"),
                 "--captions", str(d / "captions.pickle"), "--config", "tiny", "-o", str(out), "-q"]) == 0
    png = d / "birds.png"
    assert main(["sample", str(out), "--prompt", "this bird is red with a black beak", "-n", "2",
                 "--attention", "-o", str(png), "-q"]) == 0
    assert png.exists() and (d / "birds.attention.png").exists()
    assert main(["sample", str(out), "--prompt", "a blue bird", "-n", "1", "-o", str(d / "x.png"), "-q"]) != 0
    assert "blue" in capsys.readouterr().err
    # without the text encoder the converter explains what it needs
    assert main(["convert", "attngan", str(d / "netG.pth"), "-o", str(d / "y")]) != 0
    assert "--text-encoder" in capsys.readouterr().err


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


def test_damsm_term_with_twins_only_changes_the_image_to_text_halves():
    from plugins.attngan.train import damsm_loss_term
    from zoo_core.blocks.damsm_model import DAMSMEncoders

    torch.manual_seed(0)
    damsm = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny").eval()
    model = AttnGAN(**{**TINY, "vocab": list(damsm.vocab.words), "text_encoder": "tiny"})
    model.use_text_encoder(damsm)
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


def test_recipe_values_from_the_command_line_reach_the_objective():
    from plugins.attngan.config import TRAINING
    from plugins.attngan.train import train
    from zoo_core.blocks.attn_training import recipe_with
    from zoo_core.blocks.damsm_model import DAMSMEncoders
    from zoo_core.data.shapes import load_shapes

    hp = recipe_with(TRAINING, 32, damsm_lambda=50, lr_d=None)
    assert (hp["batch_size"], hp["damsm_lambda"], hp["lr_d"]) == (32, 50.0, TRAINING["lr_d"])
    with pytest.raises(ValueError, match="this recipe has no lr_x; it has"):
        recipe_with(TRAINING, None, lr_x=1e-4)
    for bad in (0, -1, "high", True):
        with pytest.raises(ValueError, match="damsm_lambda must be a positive number"):
            recipe_with(TRAINING, None, damsm_lambda=bad)

    torch.manual_seed(0)
    damsm = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny")
    data = load_shapes("train", with_captions=True, with_attributes=True, n=8)
    _, five = train("tiny", steps=1, data=data, damsm=damsm, log=None)
    _, fifty = train("tiny", steps=1, data=data, damsm=damsm, damsm_lambda=50, log=None)
    assert "+ 50 x DAMSM" in fifty["recipe"]["objective"] and "+ 5 x DAMSM" in five["recipe"]["objective"]
    g5, g50 = five["history"][0], fifty["history"][0]
    damsm5 = 5 * (g5["w_loss"] + g5["s_loss"])
    assert g50["loss_g"] - g5["loss_g"] == pytest.approx(10 * damsm5 - damsm5, rel=1e-3)


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
