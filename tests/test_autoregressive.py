"""Autoregressive plugin: causality (gradients), exact likelihoods, samplers, persistence, trainers.

gru-lm, pixelcnn and wavenet each factorise p(x) = prod_t p(x_t | x_<t); the tests check that
factorisation (no output sees its own or a later input; probabilities sum to one; samples follow
the model's own distribution) and the sampling options that make each family usable.
"""
from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
import wave
from pathlib import Path

import pytest
import torch

from plugins.autoregressive.audio import (LABELS, SOUNDS, dominant_frequency, make_dataset,
                                          mu_law_decode, mu_law_encode)
from plugins.autoregressive.config import GRU_LM, PIXELCNN, WAVENET, get_config
from plugins.autoregressive.gru_lm import GRULanguageModel
from plugins.autoregressive.pixelcnn import MaskedConv2d, PixelCNN
from plugins.autoregressive.samplers import draw
from plugins.autoregressive.text import EOT, Tokenizer
from plugins.autoregressive.wavenet import WaveNet
from zoo_core.errors import BadInputError
from zoo_core.writers import write_samples

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is fastest
FAMILIES = {"gru-lm": "plugins.autoregressive.gru_lm:GRULanguageModel",
            "pixelcnn": "plugins.autoregressive.pixelcnn:PixelCNN",
            "wavenet": "plugins.autoregressive.wavenet:WaveNet"}


def tiny(cls, cfg, **over):
    torch.manual_seed(0)
    return cls(**{**cfg["tiny"], **over}).eval()


# -- registration ------------------------------------------------------------------------------
def test_registration_names_three_families_without_importing_torch():
    code = ("import sys, plugins.autoregressive as p; fams = p.zoo_families(); "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "print(' '.join(f.name + '=' + f.model_class for f in fams))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert dict(w.split("=") for w in out.stdout.split()) == FAMILIES


def test_family_records_resolve_to_models_and_trainers():
    import plugins.autoregressive as p
    from zoo_core.lazy import import_object

    for fam in p.zoo_families():
        assert fam.load_class().family == fam.name
        assert callable(import_object(fam.trainer))


# -- shared sampling step ---------------------------------------------------------------------------
def test_draw_inverts_the_cdf_and_respects_top_k():
    logits = torch.log(torch.tensor([[0.1, 0.2, 0.3, 0.4]]))
    picks = [int(draw(logits, torch.tensor([u]))) for u in (0.0, 0.05, 0.1, 0.25, 0.35, 0.65, 0.999)]
    assert picks == [0, 0, 1, 1, 2, 3, 3]
    top2 = {int(draw(logits, torch.tensor([u]), top_k=2)) for u in torch.linspace(0, 0.999, 50).tolist()}
    assert top2 == {2, 3}
    assert int(draw(logits, torch.tensor([0.99]), temperature=1e-3)) == 3  # cold: the mode


# -- gru-lm ----------------------------------------------------------------------------------------
def test_tokenizer_round_trip_and_unknown_characters_are_named():
    tok = Tokenizer("\n abcdef()")
    assert tok.decode(tok.encode("def f()\n")) == "def f()\n"
    assert tok.decode(tok.encode("ab") + [EOT] + tok.encode("cd")) == "ab"
    with pytest.raises(BadInputError, match="'é'.*'Z'"):
        tok.encode("déf Z")


def test_token_vocabulary_whole_words_and_longest_match_spelling():
    files = ["def  abc(abc):\n    return abc\n", "def f(x):\n    return abc + x\n"]
    tok = Tokenizer.from_corpus(files, words=3)
    assert tok.tokens[-3:] == ["abc", "    ", "def"]  # most frequent pieces, ties alphabetical
    assert set("".join(files)) <= set(tok.tokens)  # every character stays encodable
    ids = tok.encode("def abcd(x):")
    assert [tok.tokens[i - 1] for i in ids] == ["def", " ", "abc", "d", "(", "x", ")", ":"]
    assert tok.decode(tok.encode("return abcabc  x\n")) == "return abcabc  x\n"
    with pytest.raises(BadInputError, match="'z'"):
        tok.encode("zeta")
    assert Tokenizer.from_corpus(files).vocab == "".join(sorted(set("".join(files))))  # characters


def test_gru_prompt_outside_the_vocabulary_is_rejected_with_the_characters():
    model = tiny(GRULanguageModel, GRU_LM, vocab="\n abcdef:()")
    with pytest.raises(BadInputError, match="'x'"):
        model.sample(2, condition="def x", generator=0)
    assert model.sample(2, generator=0).texts is not None  # no prompt: fine


def test_gru_log_prob_is_a_normalised_distribution_over_texts():
    """Over vocab {a, b}: texts 'ab'-strings of length 2, or ended early by EOT, sum to one."""
    model = tiny(GRULanguageModel, GRU_LM, vocab="ab")
    seqs = [[a, b] for a in (1, 2) for b in (0, 1, 2)] + [[EOT, EOT]]
    total = model.log_prob(torch.tensor(seqs)).exp().sum()
    assert total.item() == pytest.approx(1.0, abs=1e-5)


def test_gru_log_prob_is_the_chain_rule_of_its_next_character_predictions():
    model = tiny(GRULanguageModel, GRU_LM, vocab="\n abcdef")
    x = torch.tensor([model.encode("bad cafe\nfed")])
    logp, state, prev = 0.0, None, EOT
    with torch.no_grad():
        for tok in x[0].tolist():
            logits, state = model(torch.tensor([[prev]]), state)
            logp += torch.log_softmax(logits[0, -1], -1)[tok].item()
            prev = tok
    assert model.log_prob(x).item() == pytest.approx(logp, abs=1e-4)


def test_gru_top_k_1_is_greedy_decoding_whatever_the_seed():
    model = tiny(GRULanguageModel, GRU_LM, vocab="\n abcdef")
    a = model.sample(3, condition="be", generator=0, top_k=1, max_length=12)
    b = model.sample(3, condition="be", generator=7, top_k=1, max_length=12)
    assert a.texts == b.texts
    ids, state, out = [EOT, *model.encode("be")], None, []
    with torch.no_grad():
        logits, state = model(torch.tensor([ids]), state)
        for _ in range(12):
            tok = int(logits[0, -1].argmax())
            if tok == EOT:
                break
            out.append(tok)
            logits, state = model(torch.tensor([[tok]]), state)
    assert a.texts[0] == "be" + model.tokenizer.decode(out)


def test_gru_stop_tokens_and_length_limit():
    model = tiny(GRULanguageModel, GRU_LM, vocab="\n ab")
    nl = model.tokenizer.index["\n"]
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.fill_(0.0)
        model.head.bias[EOT] = -1e4  # never ends by itself
    out = model.sample(4, condition="a", generator=0, max_length=30)
    assert out.data.shape == (4, 30) and all(len(t) == 31 for t in out.texts)
    assert all(t.startswith("a") for t in out.texts) and any("\n" in t for t in out.texts)
    stopped = model.sample(4, condition="a", generator=0, max_length=30, stop="newline")
    for full, cut, row in zip(out.texts, stopped.texts, stopped.data):
        assert "\n" not in cut and full.startswith(cut) and full[len(cut)] == "\n"  # same draws, cut
        assert (row[len(cut) - 1:] == EOT).all()  # EOT-padded after the stop
    with torch.no_grad():
        model.head.bias[nl] = 1e4
    assert model.sample(2, condition="ab", generator=0, stop="newline").texts == ["ab", "ab"]


@pytest.mark.parametrize("option", [{"temperature": 0}, {"top_k": -1}, {"max_length": 0}, {"stop": "dot"}])
def test_gru_bad_sampler_options_are_rejected(option):
    model = tiny(GRULanguageModel, GRU_LM)
    with pytest.raises(BadInputError):
        model.sample(1, generator=0, **option)


def test_gru_sampling_is_per_sample_deterministic_and_saves_its_vocabulary(tmp_path):
    model = tiny(GRULanguageModel, GRU_LM, vocab="\n abcdef():")
    prompts = ["def ", "a", "(b)"]
    a = model.sample(20, condition=prompts, generator=0, max_length=20, temperature=0.8)
    assert a.kind == "text" and len(a.texts) == 20 and a.data.shape == (20, 20)
    assert all(t.startswith(prompts[i % 3]) for i, t in enumerate(a.texts))
    assert model.sample(4, condition=prompts, generator=0, max_length=20, temperature=0.8).texts == a.texts[:4]
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["vocab"] == "\n abcdef():"
    loaded = GRULanguageModel.from_pretrained(tmp_path)
    assert loaded.sample(20, condition=prompts, generator=0, max_length=20, temperature=0.8).texts == a.texts
    written = write_samples(a[:3], tmp_path / "out.txt")
    assert written[0].read_text().startswith("def ")


# -- pixelcnn -------------------------------------------------------------------------------------
def test_masks_a_and_b_differ_only_at_the_centre():
    a, b = MaskedConv2d("A", 1, 1, 5).mask[0, 0], MaskedConv2d("B", 1, 1, 5).mask[0, 0]
    assert a[2, 2] == 0 and b[2, 2] == 1
    assert torch.equal(a + torch.eye(5)[2][:, None] * torch.eye(5)[2], b)
    assert b[3:].sum() == 0 and b[2, 3:].sum() == 0 and b[:2].sum() == 10  # nothing below/right


GATED = {"gated": True, "num_classes": 3}  # the gated stacks, class-conditional
MASKED_COND = {"num_classes": 3, "coords": True, "class_maps": True}  # told the class and the position
VARIANTS = pytest.mark.parametrize("variant", [{}, MASKED_COND, GATED], ids=["masked", "masked-cond", "gated"])


@VARIANTS
def test_pixelcnn_output_i_depends_only_on_inputs_before_i(variant):
    model = tiny(PixelCNN, PIXELCNN, **variant)
    size = model.image_size
    x = torch.rand(1, 1, size, size, requires_grad=True)
    logits = model(x, torch.tensor([2]) if model.num_classes else None)
    for i in range(size * size):
        r, c = divmod(i, size)
        (grad,) = torch.autograd.grad(logits[0, :, r, c].sum(), x, retain_graph=True)
        g = grad.flatten().abs()
        assert g[i:].max() == 0, f"output {i} sees input {i + int(g[i:].argmax())}"
        if i > 0:
            assert g[:i].max() > 0
        if c > 0:
            assert g[i - 1] > 0  # it does see its left neighbour


@VARIANTS
def test_pixelcnn_discrete_likelihood_sums_to_one_and_density_adds_log_levels(variant):
    model = tiny(PixelCNN, PIXELCNN, image_size=2, levels=3, **variant)
    levels = torch.tensor(list(itertools.product(range(3), repeat=4)), dtype=torch.float)
    x = model.dequantize(levels).view(-1, 1, 2, 2)
    logp = model.log_prob_discrete(x)
    assert logp.exp().sum().item() == pytest.approx(1.0, abs=1e-5)
    assert torch.allclose(model.log_prob(x), logp + 4 * math.log(3))
    # the density is constant within a bin of width 1/levels
    assert torch.allclose(model.log_prob(x * 0.999 + 0.0004), model.log_prob(x), atol=1e-5)


def test_pixelcnn_gated_sees_the_rows_above_and_the_row_so_far():
    """The gated stacks' receptive field has no holes: every pixel of the row so far and of the
    rows above within reach (3 columns from the first layer's 7-wide kernel) is seen."""
    model = tiny(PixelCNN, PIXELCNN, **GATED, blocks=6)
    r, c = 5, 3
    window = torch.zeros(8, 8, dtype=torch.bool)
    window[r - 3:r, c - 3:c + 4] = True
    window[r, :c] = True
    x = torch.rand(1, 1, 8, 8, requires_grad=True)
    (grad,) = torch.autograd.grad(model(x, torch.tensor([0]))[0, :, r, c].sum(), x)
    assert (grad[0, 0] != 0)[window].all()


@pytest.mark.parametrize("variant", [MASKED_COND, GATED], ids=["masked-cond", "gated"])
def test_pixelcnn_conditional_marginal_and_labels(variant):
    model = tiny(PixelCNN, PIXELCNN, **variant)
    x = torch.rand(3, 1, 8, 8)
    per = torch.stack([model.log_prob(x, torch.full((3,), y)) for y in range(3)], 1)
    assert torch.allclose(model.log_prob(x), torch.logsumexp(per, 1) - math.log(3), atol=1e-4)
    a = model.sample(2, generator=0, condition=[0, 0]).data
    b = model.sample(2, generator=0, condition=[2, 2]).data
    assert not torch.equal(a, b)  # same noise, another class
    with pytest.raises(BadInputError, match="out of range"):
        model.sample(1, generator=0, condition=3)
    with pytest.raises(BadInputError, match="unconditional"):
        tiny(PixelCNN, PIXELCNN).sample(1, generator=0, condition=1)


def test_pixelcnn_levels_round_trip():
    model = tiny(PixelCNN, PIXELCNN, levels=5)
    k = torch.arange(5)
    assert torch.equal(model.quantize(model.dequantize(k)), k)
    assert model.dequantize(k)[0] == 0 and model.dequantize(k)[-1] == 1


def test_pixelcnn_samples_follow_the_model_distribution():
    model = tiny(PixelCNN, PIXELCNN, image_size=2, levels=2)
    s = model.sample(480, generator=0)
    assert s.data.shape == (480, 1, 2, 2) and set(s.data.unique().tolist()) <= {0.0, 1.0}
    keys = (s.data.flatten(1) @ torch.tensor([8.0, 4, 2, 1])).long()
    counts = torch.bincount(keys, minlength=16).float()
    grid = torch.tensor(list(itertools.product((0.0, 1.0), repeat=4))).view(-1, 1, 2, 2)
    probs = model.log_prob_discrete(grid).exp()
    expected = 480 * probs
    assert (((counts - expected) ** 2) / expected).sum() < 45  # chi-square, 15 dof (p < 1e-4)


def test_pixelcnn_sampling_is_deterministic_prefix_stable_and_persists(tmp_path):
    model = tiny(PixelCNN, PIXELCNN)
    a = model.sample(18, generator=0).data
    assert torch.equal(model.sample(3, generator=0).data, a[:3])
    assert not torch.equal(model.sample(3, generator=1).data, a[:3])
    model.save_pretrained(tmp_path)
    loaded = PixelCNN.from_pretrained(tmp_path)
    assert torch.equal(loaded.sample(3, generator=0).data, a[:3])
    x = torch.rand(4, 1, model.image_size, model.image_size)
    assert torch.allclose(loaded.log_prob(x), model.log_prob(x))


# -- wavenet --------------------------------------------------------------------------------------
def test_mu_law_round_trip():
    x = torch.linspace(-1, 1, 2001)
    codes = mu_law_encode(x)
    assert codes.min() == 0 and codes.max() == 255 and (codes.diff() >= 0).all()
    err = (mu_law_decode(codes) - x).abs()
    assert err[950:1051].max() < 0.0015 and err.max() < 0.04  # finer steps near zero
    assert torch.equal(mu_law_encode(mu_law_decode(torch.arange(256))), torch.arange(256))


def test_procedural_audio_is_seeded_and_has_the_labelled_pitch():
    audio, labels = make_dataset(12, seed=3, sample_rate=8000, length=4000)
    again, _ = make_dataset(12, seed=3, sample_rate=8000, length=4000)
    assert torch.equal(audio, again) and audio.abs().max() <= 1
    assert labels.tolist() == [i % len(SOUNDS) for i in range(12)]
    for clip, label in zip(audio, labels):
        sound, f = SOUNDS[int(label)], dominant_frequency(clip, 8000)
        if len(sound.freqs) == 1:
            assert f == pytest.approx(sound.pitch, abs=2)
        elif sound.freqs:  # a chord: one of its notes
            assert min(abs(f - note) for note in sound.freqs) < 3


def test_wavenet_output_t_depends_only_on_the_receptive_field_before_t():
    model = tiny(WaveNet, WAVENET)
    rf, length = model.receptive_field, 24
    x = torch.zeros(1, 256, length)
    x[0, torch.randint(0, 256, (length,)), torch.arange(length)] = 1
    x.requires_grad_(True)
    logits = model(x, torch.tensor([1]))
    for t in range(length):
        (grad,) = torch.autograd.grad(logits[0, :, t].sum(), x, retain_graph=True)
        g = grad[0].abs().sum(0)
        assert g[t:].max() == 0, f"output {t} sees input {t + int(g[t:].argmax())}"
        if t > 0:
            assert g[t - 1] > 0
        if t - rf >= 0:
            assert g[t - rf] > 0 and g[:t - rf].sum() == 0


def test_wavenet_incremental_generation_equals_the_full_forward():
    model = tiny(WaveNet, WAVENET)
    labels = torch.tensor([0, 2, 1])
    codes = torch.randint(0, 256, (3, 3 * model.receptive_field))  # the ring buffers wrap
    with torch.no_grad():
        full = model(codes, labels)
        state, steps = model.init_state(labels), []
        for t in range(codes.shape[1]):
            steps.append(model.step(state))
            model.feed(state, codes[:, t])
    assert torch.allclose(torch.stack(steps, 2), full, atol=1e-5)


def test_wavenet_log_prob_marginalises_the_label():
    model = tiny(WaveNet, WAVENET)
    x = torch.rand(2, 40) * 2 - 1
    per = torch.stack([model.log_prob(x, k) for k in range(model.num_classes)], 1)
    assert torch.allclose(model.log_prob(x), torch.logsumexp(per, 1) - math.log(model.num_classes), atol=1e-5)
    assert (per < 0).all()


def test_wavenet_samples_are_audio_with_a_rate_and_write_a_wav(tmp_path):
    model = tiny(WaveNet, WAVENET)
    s = model.sample(3, generator=0, seconds=0.02)
    assert s.kind == "audio" and s.sample_rate == model.sample_rate
    assert s.data.shape == (3, round(0.02 * model.sample_rate)) and s.data.abs().max() <= 1
    assert torch.equal(model.sample(1, generator=0, seconds=0.02).data, s.data[:1])
    assert model.sample(2, generator=0).data.shape == (2, model.clip_length)
    labelled = model.sample(2, generator=0, condition=[2, 0])
    assert labelled.conditions == [2, 0]
    path = write_samples(s, tmp_path / "tone.wav")[0]
    with wave.open(str(path)) as w:
        assert w.getframerate() == model.sample_rate and w.getnframes() == s.data.numel()
    with pytest.raises(BadInputError, match="out of range"):
        model.sample(1, condition=model.num_classes, generator=0)
    with pytest.raises(BadInputError):
        model.sample(1, generator=0, temperature=-1.0)


def test_wavenet_labels_cover_the_sound_classes():
    assert len(LABELS) == len(SOUNDS) and get_config("wavenet", "small")[0]["num_classes"] == len(SOUNDS)


# -- trainers --------------------------------------------------------------------------------------
def test_trainers_run_a_few_steps_and_report(tmp_path):
    from plugins.autoregressive import train as T

    code = ["def f(x):\n    return x + 1\n"] * 30
    model, report = T.train_gru_lm("tiny", steps=2, files=code, test_files=code[:2], log=None)
    assert report["family"] == "gru-lm" and report["recipe"]["steps"] == 2
    assert model.tokenizer.vocab == "".join(sorted(set(code[0])))
    assert report["metrics"]["test_bits_per_char"] > 0
    data = torch.rand(16, 1, 8, 8)
    model, report = T.train_pixelcnn("tiny", steps=2, data=data, log=None)
    assert report["recipe"]["steps"] == 2 and isinstance(model, PixelCNN)
    model, report = T.train_wavenet("tiny", steps=2, log=None)
    assert report["recipe"]["steps"] == 2 and report["metrics"]["heldout_bits_per_sample"] > 0
    assert report["metrics"]["tone_pitch_error_pct_max"] >= 0  # the sampled-pitch check ran
    model.save_pretrained(tmp_path)
    assert WaveNet.from_pretrained(tmp_path).dilations == WAVENET["tiny"]["dilations"]
