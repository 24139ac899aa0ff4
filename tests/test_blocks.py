"""The shared text-to-image blocks: vocabulary, DAMSM encoders and losses, conditioning
augmentation, word attention, GLU blocks, attribute classifier."""
from __future__ import annotations

import os
import pickle

import pytest
import torch
import torch.nn.functional as F

from zoo_core.blocks import attention, conditioning, damsm, text_encoder, upblocks
from zoo_core.blocks.vocab import PAD, Vocabulary, load_captions_pickle, padding_mask
from zoo_core.errors import BadInputError, ZooError


# -- vocabulary --------------------------------------------------------------------------------
def test_vocabulary_round_trip():
    vocab = Vocabulary.for_shapes()
    assert vocab.words[0] == PAD and len(vocab) == len(set(vocab.words))
    text = "There is a blue square under a little red circle."
    ids = vocab.encode(text)
    assert 0 not in ids and vocab.decode(ids + [0, 0]) == "there is a blue square under a little red circle"
    assert Vocabulary(vocab.to_list()) == vocab  # what a config.json stores
    batch, lengths = vocab.encode_batch(["a red star", "a big blue disc at the top"], pad_to=18)
    assert batch.shape == (2, 18) and lengths.tolist() == [3, 7]
    assert padding_mask(batch).sum(1).tolist() == [15, 11]


def test_out_of_vocabulary_words_are_reported_not_dropped():
    vocab = Vocabulary.for_shapes()
    with pytest.raises(BadInputError) as err:
        vocab.encode("a crimson hexagon above a blue square")
    assert "'crimson'" in str(err.value) and "'hexagon'" in str(err.value)
    for empty in ("", "  ", "!!"):
        with pytest.raises(BadInputError):
            vocab.encode(empty)
    with pytest.raises(BadInputError):
        vocab.encode("a red circle " * 10, max_words=18)


class _Boom:
    def __reduce__(self):
        return (os.mkdir, (os.environ["ZOO_TEST_MARKER"],))


def test_captions_pickle_reads_plain_data_and_refuses_classes(tmp_path, monkeypatch):
    ixtoword = {0: "<end>", 1: "a", 2: "bird"}
    path = tmp_path / "captions.pickle"
    path.write_bytes(pickle.dumps([[[1, 2]], [[2]], ixtoword, {w: i for i, w in ixtoword.items()}], protocol=2))
    got = load_captions_pickle(path)
    assert got["train"] == [[1, 2]] and got["vocabulary"].words == ["<end>", "a", "bird"]
    marker = tmp_path / "executed"
    monkeypatch.setenv("ZOO_TEST_MARKER", str(marker))
    path.write_bytes(pickle.dumps([[], [], {0: "<end>", 1: _Boom()}, {}], protocol=2))
    with pytest.raises(ZooError, match="refusing"):
        load_captions_pickle(path)
    assert not marker.exists()


# -- text encoder ------------------------------------------------------------------------------
def test_paper_text_encoder_parameter_count_from_layer_sizes():
    cfg = text_encoder.PAPER_CUB
    enc = text_encoder.build_text_encoder("paper-cub")
    hidden = cfg["nhidden"] // 2  # per direction
    lstm_direction = 4 * hidden * (cfg["ninput"] + hidden) + 2 * 4 * hidden  # W_ih, W_hh, b_ih, b_hh
    expected = cfg["ntoken"] * cfg["ninput"] + 2 * lstm_direction
    assert sum(p.numel() for p in enc.parameters()) == expected
    keys = set(enc.state_dict())  # the original RNN_ENCODER's key names
    assert {"encoder.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0_reverse", "rnn.bias_hh_l0_reverse"} <= keys


def test_text_encoder_shapes_padding_and_order_independence():
    torch.manual_seed(0)
    vocab = Vocabulary.for_shapes()
    enc = text_encoder.build_text_encoder("tiny", ntoken=len(vocab)).eval()
    prompts = ["a red star", "there is a big blue disc at the top on a black background", "a green cross"]
    ids, lens = vocab.encode_batch(prompts, pad_to=18)
    words, sent = enc(ids, lens)
    assert words.shape == (3, enc.nef, 18) and sent.shape == (3, enc.nef)
    assert torch.all(words[0, :, 3:] == 0)  # padded positions carry nothing
    ids1, lens1 = vocab.encode_batch(prompts[:1])  # alone, no extra padding
    words1, sent1 = enc(ids1, lens1)
    torch.testing.assert_close(sent1[0], sent[0])
    torch.testing.assert_close(words1[0], words[0, :, :3])
    # sentence = [forward state after the last word, backward state after the first]
    half = enc.nef // 2
    torch.testing.assert_close(sent[1, :half], words[1, :half, int(lens[1]) - 1])
    torch.testing.assert_close(sent[1, half:], words[1, half:, 0])


# -- image encoders ----------------------------------------------------------------------------
def test_small_image_encoder_shapes_and_classifier_trunk():
    from zoo_core.blocks.attribute_classifier import TINY as CLS, ShapesAttributeClassifier
    from zoo_core.blocks.image_encoder import TINY, build_image_encoder

    enc = build_image_encoder("tiny").eval()
    x = torch.rand(2, 3, 64, 64)
    regions, code = enc(x * 2 - 1)
    assert regions.shape == (2, enc.nef, 8, 8) and code.shape == (2, enc.nef)
    # the DAMSM trunk can start from the attribute classifier's (scripts/train_damsm.py)
    cls = ShapesAttributeClassifier(**{**CLS, "widths": TINY["widths"]}).eval()
    enc.features.load_state_dict(cls.body.state_dict())
    torch.testing.assert_close(enc.features(x), cls.body(x))


def test_paper_image_encoder_layout():
    from zoo_core.blocks.image_encoder import INCEPTION_LAYERS, InceptionEncoder

    with torch.device("meta"):  # layout and shapes only: no memory, no arithmetic
        enc = InceptionEncoder(nef=8).eval()
    keys = set(enc.state_dict())
    assert {"Conv2d_1a_3x3.conv.weight", "Mixed_6e.branch7x7_1.bn.running_var", "Mixed_7c.branch_pool.conv.weight",
            "emb_features.weight", "emb_cnn_code.weight", "emb_cnn_code.bias"} <= keys
    assert not any(k.startswith(("fc.", "AuxLogits")) for k in keys)
    assert {k.split(".")[0] for k in keys} == set(INCEPTION_LAYERS) | {"emb_features", "emb_cnn_code"}
    trainable = sum(p.numel() for p in enc.parameters() if p.requires_grad)
    assert trainable == 768 * 8 + 2048 * 8 + 8  # only the projections train, as in the original
    with torch.no_grad():
        regions, code = enc(torch.zeros(1, 3, 64, 64, device="meta"))
    assert regions.shape == (1, 8, 17, 17) and code.shape == (1, 8)


# -- attention ---------------------------------------------------------------------------------
def _mask(lengths, T):
    return torch.arange(T)[None, :] >= torch.tensor(lengths)[:, None]


def test_word_attention_gives_padded_words_zero_weight():
    torch.manual_seed(0)
    att = attention.GlobalAttentionGeneral(idf=6, cdf=5)
    x, words = torch.randn(2, 6, 4, 4), torch.randn(2, 5, 7)
    mask = _mask([3, 7], 7)
    ctx, attn = att(x, words, mask)
    assert ctx.shape == (2, 6, 4, 4) and attn.shape == (2, 7, 4, 4)
    assert torch.all(attn[0, 3:] == 0)
    torch.testing.assert_close(attn.sum(1), torch.ones(2, 4, 4))
    words2 = words.clone()
    words2[0, :, 3:] = 100.0  # whatever sits in the padding
    torch.testing.assert_close(att(x, words2, mask)[0], ctx)
    assert not torch.allclose(att(x, words2)[0], ctx)  # without the mask the padding would leak


def test_func_attention_mask_matches_slicing():
    torch.manual_seed(1)
    words, regions = torch.randn(1, 4, 6), torch.randn(1, 4, 3, 3)
    full, attn = attention.func_attention(words, regions, 4.0, _mask([4], 6))
    sliced, attn_s = attention.func_attention(words[:, :, :4], regions, 4.0)
    torch.testing.assert_close(full[:, :, :4], sliced)
    torch.testing.assert_close(attn[:, :4], attn_s)


def test_attention_overlays():
    img = torch.rand(2, 3, 16, 16)
    attn = torch.zeros(2, 3, 4, 4)
    attn[:, :, 0, 0] = 1.0  # every word looks at the top-left corner
    over = attention.attention_overlays(img, attn, lengths=torch.tensor([3, 1]), strength=0.7)
    assert over.shape == (2, 3, 3, 16, 16)
    assert torch.all(over[1, 1:] == 0)  # words past the caption stay black
    torch.testing.assert_close(over[0, 0, :, 0, 0], img[0, :, 0, 0])  # attended: as is
    torch.testing.assert_close(over[0, 0, :, -1, -1], 0.3 * img[0, :, -1, -1])  # ignored: dimmed


def test_glam_sentence_attention_shapes():
    glam = attention.GLAttentionGeneral(idf=6, cdf=5, sentence_dim=3)
    word_ctx, sent_ctx, word_attn, sent_attn = glam(torch.randn(2, 6, 4, 4), torch.randn(2, 3), torch.randn(2, 5, 7))
    assert word_ctx.shape == sent_ctx.shape == sent_attn.shape == (2, 6, 4, 4) and word_attn.shape == (2, 7, 4, 4)
    torch.testing.assert_close(sent_attn.sum(1), torch.ones(2, 4, 4))


# -- conditioning augmentation -----------------------------------------------------------------
def test_ca_kl_matches_closed_form():
    torch.manual_seed(0)
    mu, logvar = torch.randn(5, 7), torch.randn(5, 7)
    ref = torch.distributions.kl_divergence(torch.distributions.Normal(mu, (0.5 * logvar).exp()),
                                            torch.distributions.Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(conditioning.kl_divergence(mu, logvar), ref)
    torch.testing.assert_close(conditioning.kl_loss(mu, logvar), ref.mean() / 7)
    assert float(conditioning.kl_divergence(torch.zeros(1, 3), torch.zeros(1, 3))) == 0.0


@pytest.mark.parametrize("glu", [True, False])
def test_ca_net_reparameterisation(glu):
    ca = conditioning.CANet(t_dim=12, c_dim=4, glu=glu)
    assert ca.fc.out_features == 4 * (4 if glu else 2)
    emb, eps = torch.randn(3, 12), torch.randn(3, 4)
    c, mu, logvar = ca(emb, eps)
    torch.testing.assert_close(c, mu + eps * (0.5 * logvar).exp())
    torch.testing.assert_close(ca(emb, eps)[0], c)  # the noise comes only from eps


# -- DAMSM -------------------------------------------------------------------------------------
def _toy_batch(n=6, nef=16, T=5):
    """Captions whose words each appear, with noise, in one region of their own image."""
    g = torch.Generator().manual_seed(0)
    words = torch.randn(n, nef, T, generator=g)
    lens = torch.tensor([T, T - 1, T - 2, T, 3, T])[:n]
    regions = 0.3 * torch.randn(n, nef, 3, 3, generator=g)
    for i in range(n):
        for t in range(int(lens[i])):
            regions[i, :, t // 3, t % 3] += words[i, :, t]
        words[i, :, int(lens[i]):] = 0
    sent = words.sum(2)
    code = regions.flatten(2).sum(2) + 0.3 * torch.randn(n, nef, generator=g)
    return regions, code, words, sent, lens


def test_damsm_loss_lower_for_matched_than_shuffled_pairs():
    regions, code, words, sent, lens = _toy_batch()
    matched = damsm.damsm_loss(regions, code, words, sent, lens)
    perm = torch.tensor([1, 2, 3, 4, 5, 0])
    shuffled = damsm.damsm_loss(regions, code, words[perm], sent[perm], lens[perm])
    for part in ("w_loss0", "w_loss1", "s_loss0", "s_loss1"):
        assert matched[part] < shuffled[part], part
    scores = damsm.word_scores(regions, words, lens)
    assert torch.all(scores.diag() > scores.masked_fill(torch.eye(6, dtype=torch.bool), -1e9).max(1).values)


def test_batched_word_scores_equal_the_original_per_caption_loop():
    regions, _, words, _, lens = _toy_batch()
    ref = torch.zeros(6, 6)
    for i in range(6):  # the original words_loss: slice caption i, attend over every image
        w = words[i:i + 1, :, : int(lens[i])].repeat(6, 1, 1)
        ctx, _ = attention.func_attention(w, regions, damsm.GAMMA1)
        sim = damsm.cosine_similarity(w, ctx, dim=1)
        ref[:, i] = torch.log(torch.exp(sim * damsm.GAMMA2).sum(1))
    torch.testing.assert_close(damsm.word_scores(regions, words, lens), ref)
    loss0, loss1, maps = damsm.words_loss(regions, words, lens)
    labels = torch.arange(6)
    torch.testing.assert_close(loss0, F.cross_entropy(ref * damsm.GAMMA3, labels))
    torch.testing.assert_close(loss1, F.cross_entropy(ref.t() * damsm.GAMMA3, labels))
    assert [m.shape[1] for m in maps] == lens.tolist()


def test_class_ids_leave_same_class_pairs_out():
    regions, code, words, sent, lens = _toy_batch()
    s0, _ = damsm.sent_loss(code, sent, class_ids=torch.tensor([0, 0, 1, 2, 3, 4]))
    scores = damsm.sentence_scores(code, sent) * damsm.GAMMA3
    scores[0, 1] = scores[1, 0] = float("-inf")
    torch.testing.assert_close(s0, F.cross_entropy(scores, torch.arange(6)))


def test_r_precision():
    g = torch.Generator().manual_seed(0)
    codes = torch.randn(300, 8, generator=g)
    perfect = damsm.r_precision(codes, codes, candidates=100)
    assert perfect["r_precision"] == 1.0
    chance = damsm.r_precision(codes, torch.randn(300, 8, generator=g), candidates=100)["r_precision"]
    assert chance < 0.05
    groups = torch.arange(300) % 2  # mismatches only from the other group
    with pytest.raises(ValueError):
        damsm.r_precision(codes, codes, candidates=200, groups=groups)
    # a caption excluded as a mismatch never competes: caption 1 fits image 0 better than its own
    img = torch.eye(4)
    caps = torch.eye(4)
    caps[0] = img[0] + 0.5 * img[2]
    caps[1] = img[0]
    assert damsm.r_precision(img, caps, candidates=4)["r_precision"] == 0.75
    exclude = torch.zeros(4, 4, dtype=torch.bool)
    exclude[0, 1] = True
    assert damsm.r_precision(img, caps, candidates=3, exclude=exclude)["r_precision"] == 1.0
    with pytest.raises(ValueError):
        damsm.r_precision(img, caps, candidates=4, exclude=exclude)


# -- GLU blocks --------------------------------------------------------------------------------
def test_glu_blocks_shapes_and_original_key_names():
    x = torch.randn(2, 8, 4, 4)
    assert upblocks.GLU()(x).shape == (2, 4, 4, 4)
    assert upblocks.upBlock(8, 6)(x).shape == (2, 6, 8, 8)
    assert upblocks.upBlock(8, 6, activation="relu")(x).shape == (2, 6, 8, 8)
    res = upblocks.ResBlock(8)
    assert res(x).shape == x.shape
    assert set(res.state_dict()) >= {"block.0.weight", "block.1.running_mean", "block.3.weight", "block.4.bias"}
    init = upblocks.InitStageG(ngf=32, in_dim=10)
    out = init(torch.randn(3, 6), torch.randn(3, 4))
    assert out.shape == (3, 2, 64, 64)
    keys = set(init.state_dict())
    assert {"fc.0.weight", "fc.1.running_var", "upsample1.1.weight", "upsample4.2.bias"} <= keys
    assert init.fc[0].out_features == 32 * 4 * 4 * 2  # GLU halves it to ngf x 4 x 4
    assert upblocks.GetImageG(2)(out).abs().max() <= 1


# -- saved models ------------------------------------------------------------------------------
def test_damsm_encoders_save_load_and_errors(tmp_path):
    from zoo_core.blocks.damsm_model import DAMSMEncoders
    from zoo_core.blocks.image_encoder import TINY as IMG
    from zoo_core.blocks.text_encoder import TINY as TXT

    model = DAMSMEncoders(vocab=Vocabulary.for_shapes().to_list(), text_encoder=dict(TXT), image_encoder=dict(IMG)).eval()
    model.save_pretrained(tmp_path)
    again = DAMSMEncoders.from_pretrained(str(tmp_path)).eval()
    assert again.vocab == model.vocab
    prompts = ["a small red circle above a blue square"]
    torch.testing.assert_close(again.encode_text(prompts)[1], model.encode_text(prompts)[1])
    with pytest.raises(BadInputError, match="'octagon'"):
        again.encode_text(["a red octagon"])
    with pytest.raises(ZooError):
        again.sample(1)


def test_attribute_classifier_keeps_head_order_through_config(tmp_path):
    from zoo_core.blocks.attribute_classifier import TINY, ShapesAttributeClassifier
    from zoo_core.data.shapes import ATTRIBUTES

    model = ShapesAttributeClassifier(**TINY).eval()
    model.save_pretrained(tmp_path)  # config.json is written with sorted keys
    again = ShapesAttributeClassifier.from_pretrained(str(tmp_path)).eval()
    assert list(again.heads_spec) == list(ATTRIBUTES)
    x = torch.rand(3, 3, 64, 64)
    torch.testing.assert_close(again.predict(x), model.predict(x))
    feats, logits = again.extract(x)
    assert feats.shape == (3, again.feature_dim) and logits.shape == (3, again.num_classes)
    torch.testing.assert_close(logits.exp().sum(1), torch.ones(3))  # a distribution over (shape, colour)
    assert set(again.predict_attributes(x)[0]) == set(ATTRIBUTES)


def test_caption_accuracy_compares_stated_attributes(monkeypatch):
    from zoo_core.blocks.attribute_classifier import TINY, ShapesAttributeClassifier
    from zoo_core.data.shapes import generate

    data = generate("test", 6)
    model = ShapesAttributeClassifier(**TINY)
    truth = [dict(a) for a in data.attributes]
    monkeypatch.setattr(model, "predict_attributes", lambda x: truth)
    prompts = [c[0] for c in data.captions]
    assert model.caption_accuracy(torch.zeros(6, 3, 64, 64), prompts)["caption_accuracy"] == 1.0
    truth[0]["colour0"] = next(c for c in ("red", "blue") if c != truth[0]["colour0"])
    acc = model.caption_accuracy(torch.zeros(6, 3, 64, 64), prompts)
    assert acc["caption_accuracy"] == 5 / 6 and acc["caption_accuracy_colour0"] == 5 / 6
    assert acc["caption_accuracy_shape0"] == 1.0
    pairs = [i for i, t in enumerate(truth) if t["shape1"] != "none"]
    assert acc["caption_pairs_swapped"] == 0.0 and pairs
    i = pairs[0]
    a = "colour" if truth[i]["colour0"] != truth[i]["colour1"] else "shape"
    truth[i][f"{a}0"], truth[i][f"{a}1"] = truth[i][f"{a}1"], truth[i][f"{a}0"]  # that pair the other way round
    truth[i]["size0"] = truth[i]["size1"] = "large"  # shapes or sizes wrong as well: still swapped
    acc = model.caption_accuracy(torch.zeros(6, 3, 64, 64), prompts)
    assert acc["caption_pairs_swapped"] == 1 / len(pairs) and acc["caption_accuracy"] <= 4 / 6


def test_extra_negatives_only_raise_the_image_to_text_loss_when_they_score_high():
    torch.manual_seed(0)
    scores = torch.randn(4, 4) * 3
    base, _ = damsm._two_way_ce(scores, None)
    far = damsm.image_to_text_with_negatives(scores, torch.full((4, 1), -1e4))
    assert torch.allclose(far, base)  # a negative nobody confuses changes nothing
    close = damsm.image_to_text_with_negatives(scores, scores.diagonal()[:, None].clone())
    assert close > base  # a negative as close as the true caption costs probability
    cls = torch.tensor([0, 0, 1, 2])  # the class mask still drops same-scene captions
    masked, _ = damsm._two_way_ce(scores, cls)
    assert torch.allclose(damsm.image_to_text_with_negatives(scores, torch.full((4, 1), -1e4), cls), masked)


def test_attentional_discriminator_loss_with_twin_captions():
    from zoo_core.blocks.attn_discriminators import _bce, discriminator_loss, make_discriminator

    torch.manual_seed(0)
    netD = make_discriminator(32, 4, 8)
    real, fake = torch.randn(3, 3, 32, 32), torch.randn(3, 3, 32, 32)
    sent, twin = torch.randn(3, 8), torch.randn(3, 8)
    plain, stats = discriminator_loss(netD, real, fake, sent)
    loss, twin_stats = discriminator_loss(netD, real, fake, sent, twin)
    assert "d_twin" not in stats and 0 < twin_stats["d_twin"] < 1
    with torch.no_grad():
        rf, ff = netD(real), netD(fake)
        cr, cf = _bce(netD.COND_DNET(rf, sent), 1.0), _bce(netD.COND_DNET(ff, sent), 0.0)
        cw = _bce(netD.COND_DNET(rf[:2], sent[1:]), 0.0)
        ct = _bce(netD.COND_DNET(rf, twin), 0.0)
        r, f = _bce(netD.UNCOND_DNET(rf), 1.0), _bce(netD.UNCOND_DNET(ff), 0.0)
    assert torch.allclose(plain, (r + cr) / 2 + (f + cf + cw) / 3, atol=1e-6)
    assert torch.allclose(loss, (r + cr) / 2 + (f + cf + (cw + ct) / 2) / 3, atol=1e-6)
