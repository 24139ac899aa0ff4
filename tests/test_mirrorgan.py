"""MirrorGAN: paper size, GLAM stages (word + sentence attention), the AttnGAN warm start,
STREAM's caption loss and its role in training, persistence, seeding and OOV prompts."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from plugins.mirrorgan.config import PAPER, TINY
from plugins.mirrorgan.model import MirrorGAN
from plugins.mirrorgan.stream import STREAM
from zoo_core.errors import BadInputError

PROMPTS = ["a big red circle", "a small blue square above a yellow triangle on a white background"]


def tiny(**kw) -> MirrorGAN:
    torch.manual_seed(0)
    return MirrorGAN(**{**TINY, **kw}).eval()


def test_paper_generator_has_the_derived_parameter_count():
    from plugins.attngan.model import AttnGAN

    with torch.device("meta"):
        model, attn = MirrorGAN(**PAPER), AttnGAN(**PAPER)
    n = model.num_generator_parameters()
    assert n == 7_105_392  # derived in plugins/mirrorgan/config.py from the original layers
    assert round(n / 1e6, 2) == 7.11  # the paper's figure
    # GLAM adds, per attentional stage, only the sentence attention and the fusion conv
    extra = sum(p.numel() for i in (2, 3) for name in ("att.conv_sentence_vis", "att.linear", "conv")
                for p in model.get_submodule(f"h_net{i}.{name}").parameters())
    assert n == attn.num_generator_parameters() + extra


def test_stages_and_glam_attention():
    model = tiny()
    text = model.encode_prompts(PROMPTS)
    z, eps = torch.randn(2, model.z_dim), torch.randn(2, model.c_dim)
    out = model.generate(z, text, eps=eps)
    for i, img in enumerate(out.images):
        assert img.shape == (2, 3, model.init_size * 2 ** i, model.init_size * 2 ** i)
    word = out.attention[-1]
    assert torch.allclose(word.sum(1), torch.ones_like(word.sum(1)), atol=1e-5)
    assert word[0, int(text.lengths[0]):].abs().max() == 0  # padding gets no attention
    # the sentence attention is a softmax over channels, gated by the CA code
    h = torch.randn(2, model.ngf, 8, 8)
    c = torch.randn(2, model.c_dim)
    _, sent_ctx, _, sent_att = model.h_net2.att(h, c, text.words, text.mask)
    assert torch.allclose(sent_att.sum(1), torch.ones(2, 8, 8), atol=1e-5)
    _, sent_ctx2, _, _ = model.h_net2.att(h, c * 2, text.words, text.mask)
    assert not torch.allclose(sent_ctx, sent_ctx2)


@pytest.mark.parametrize("r_num", [1, 2])
def test_starting_from_an_attngan_reproduces_its_images(r_num):
    from plugins.attngan.model import AttnGAN

    torch.manual_seed(5)
    attn = AttnGAN(**{**TINY, "r_num": 1}).eval()
    mirror = tiny(r_num=r_num)
    new = mirror.load_attngan(attn.state_dict())
    parts = {k.rsplit(".", 1)[0].split(".", 1)[1] for k in new}
    grown = {p for p in parts if p.startswith("residual.")}
    assert sorted(parts - grown) == ["att.conv_sentence_vis", "att.linear", "conv"]
    assert bool(grown) == (r_num == 2)  # the added block starts as the identity
    text = mirror.encode_prompts(PROMPTS)
    z, eps = torch.randn(2, mirror.z_dim), torch.randn(2, mirror.c_dim)
    a, b = attn.generate(z, text, eps=eps), mirror.generate(z, text, eps=eps)
    for x, y in zip(a.images, b.images):
        assert torch.allclose(x, y, atol=1e-5)


def test_stream_caption_loss_is_the_teacher_forced_cross_entropy():
    torch.manual_seed(0)
    model = tiny()
    stream = STREAM(len(model.vocab), embed_size=8, hidden_size=8, widths=(4, 4, 8, 8), trunk="conv").eval()
    images = torch.rand(2, 3, 64, 64) * 2 - 1
    ids, lens = model.vocab.encode_batch(PROMPTS)
    loss = stream.caption_loss(images, ids, lens)
    # by hand: step the LSTM over [image feature, w1 .. wL] and score w1 .. wL, <end>
    feats = stream.cnn(images)
    total, count = 0.0, 0
    for i in range(2):
        L = int(lens[i])
        inputs = torch.cat([feats[i:i + 1, None], stream.rnn.embed(ids[i:i + 1, :L])], 1)
        logits = stream.rnn.linear(stream.rnn.lstm(inputs)[0][0])
        targets = torch.cat([ids[i, :L], torch.zeros(1, dtype=torch.long)])
        total += F.cross_entropy(logits, targets, reduction="sum")
        count += L + 1
    assert torch.allclose(loss, total / count, atol=1e-5)
    # once STREAM has seen the pairs, the right captions cost less than swapped ones
    opt = torch.optim.Adam(stream.parameters(), lr=1e-2)
    stream.train()
    for _ in range(30):
        opt.zero_grad()
        stream.caption_loss(images, ids, lens).backward()
        opt.step()
    swapped, swapped_lens = model.vocab.encode_batch(PROMPTS[::-1])
    with torch.no_grad():
        assert stream.caption_loss(images, ids, lens) < stream.caption_loss(images, swapped, swapped_lens)


def test_one_training_step_uses_the_frozen_stream(tmp_path):
    from plugins.mirrorgan.train import train
    from zoo_core.blocks.damsm_model import DAMSMEncoders
    from zoo_core.data.shapes import load_shapes

    torch.manual_seed(0)
    damsm = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny")
    stream = STREAM(len(damsm.vocab), embed_size=8, hidden_size=8, widths=(4, 4, 8, 8), trunk="conv")
    stream_before = {k: v.clone() for k, v in stream.state_dict().items()}
    x, caps, labels = load_shapes("train", with_captions=True, with_attributes=True, n=8)
    torch.manual_seed(0)
    before = MirrorGAN(**{**TINY, "vocab": list(damsm.vocab.words), "text_encoder": "tiny"})
    model, report = train("tiny", steps=1, data=(x, caps, labels), damsm=damsm, stream=stream, log=None)
    assert report["final"]["cap_loss"] > 0 and report["recipe"]["steps"] == 1
    assert report["recipe"]["STREAM"].startswith("captioner: convolutional trunk")  # the trunk it was given
    assert all(torch.equal(v, stream_before[k]) for k, v in stream.state_dict().items())  # STREAM frozen
    moved = [k for k, v in model.state_dict().items()
             if not k.startswith("text_encoder.") and v.dtype.is_floating_point
             and not torch.equal(v, before.state_dict()[k])]
    assert any(k.startswith("h_net2.att.linear") for k in moved) and any(k.startswith("h_net2.conv") for k in moved)
    te = {k: v for k, v in model.state_dict().items() if k.startswith("text_encoder.")}
    assert all(torch.equal(v, damsm.state_dict()[k]) for k, v in te.items())
    assert report["recipe"]["hard_negatives"] is None
    _, heavier = train("tiny", steps=1, data=(x, caps, labels), damsm=damsm, stream=stream, caption_lambda=30,
                       log=None)
    assert "+ 30 x STREAM" in heavier["recipe"]["objective"]
    g10, g30 = report["history"][0], heavier["history"][0]  # same seed: only the caption term's weight differs
    assert g30["loss_g"] - g10["loss_g"] == pytest.approx(20 * g10["cap_loss"], rel=1e-3)

    from zoo_core.data.shapes import shape_twins

    twins = shape_twins("train", 8).captions
    _, with_twins = train("tiny", steps=1, data=(x, caps, labels, twins), damsm=damsm, stream=stream,
                          twin_negatives="d", log=None)
    assert 0 < with_twins["final"]["d_twin"] < 1 and with_twins["final"]["cap_loss"] > 0
    assert with_twins["recipe"]["hard_negatives"].startswith("shape-twin")
    with pytest.raises(ValueError, match="twin_negatives must be one of none, d,"):
        train("tiny", steps=1, data=(x, caps, labels, twins), damsm=damsm, stream=stream,
              twin_negatives="d+damsm", log=None)  # MirrorGAN's generator has no DAMSM term
    # a saved MirrorGAN run continues as itself, here with one more residual block (as identity)
    model.save_pretrained(tmp_path / "run")
    lines: list[str] = []
    grown, _ = train("tiny", steps=1, data=(x, caps, labels), damsm=damsm, stream=stream,
                     init_from=str(tmp_path / "run"), r_num=2, lr_g=1e-12, lr_d=1e-12, log=lines.append)
    assert grown.r_num == 2 and any("from the MirrorGAN" in line for line in lines)
    conv = "h_net2.conv.weight"  # no longer the identity an AttnGAN start would have set
    assert torch.allclose(grown.state_dict()[conv], model.state_dict()[conv], atol=1e-6)


def test_save_load_seeded_sampling_and_oov(tmp_path):
    import zoo_core as zoo

    model = tiny()
    model.save_pretrained(tmp_path / "m")
    loaded = zoo.load(str(tmp_path / "m"))
    assert type(loaded) is MirrorGAN
    s1 = model.sample(3, prompt=PROMPTS, generator=1, attention=True)
    s2 = loaded.sample(3, prompt=PROMPTS, generator=1)
    assert torch.equal(s1.data, s2.data)
    # sample i depends on (seed, i); the other prompts of its batch only change the float
    # rounding (the captions are padded to the batch's longest and batched through the LSTM)
    assert torch.allclose(loaded.sample(1, prompt=PROMPTS, generator=1).data, s1.data[:1], atol=1e-5)
    assert s1.extras["attention"].shape[:2] == (3, model.encode_prompts(PROMPTS).ids.shape[1])
    with pytest.raises(BadInputError, match="unicorn"):
        loaded.sample(1, prompt="a red unicorn", generator=0)
