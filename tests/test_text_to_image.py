"""The text-to-image platform on a toy family: prompts, attention extras, conversion, eval."""
from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from zoo_core.blocks.text_to_image import GeneratorOutput, TextToImageModel
from zoo_core.cli import main
from zoo_core.errors import BadInputError, ZooError
from zoo_core.family import Family
from zoo_core.hookspecs import hookimpl
from zoo_core.plugins import PluginManager, reset_plugin_manager


class ToyT2I(TextToImageModel):
    """Colour from the sentence, texture from the noise; uniform attention over the words."""

    family = "toy-t2i"

    def __init__(self, vocab: list[str] | None = None, text_encoder: dict | str | None = "tiny",
                 max_words: int = 18, text_dim: int | None = None, size: int = 8) -> None:
        super().__init__()
        self.init_text(vocab, text_encoder, max_words, text_dim=text_dim)
        self.z_dim, self.c_dim, self.size = 4, 2, size
        self.head = nn.Linear(self.text_dim + self.c_dim, 3)
        self.tex = nn.Linear(self.z_dim, size * size)

    def generate(self, noise, text, eps=None, attention=False):
        c = torch.cat([text.sentence, eps if eps is not None else torch.zeros(len(noise), self.c_dim)], 1)
        img = torch.tanh(self.head(c)[:, :, None, None] + self.tex(noise).view(-1, 1, self.size, self.size))
        attn = None
        if attention and text.words is not None:
            T = text.words.shape[2]
            a = (~text.mask).float()[:, :, None, None].expand(-1, T, 4, 4)
            attn = [a / a.sum(1, keepdim=True).clamp(min=1)]
        return GeneratorOutput(images=[img[:, :, ::2, ::2], img], attention=attn)


def convert(checkpoint, **options):
    if options:
        raise TypeError(f"convert() got an unexpected keyword argument {next(iter(options))!r}")
    model = ToyT2I(text_encoder=None, text_dim=6)
    from zoo_core.convert import load_original, read_state_dict

    load_original(model, read_state_dict(checkpoint))
    return model


class ToyT2IPlugin:
    @hookimpl
    def zoo_families(self):
        return [Family(name="toy-t2i", model_class="tests.test_text_to_image:ToyT2I",
                       tasks=("text-to-image",), converter="tests.test_text_to_image:convert")]


@pytest.fixture
def t2i_env(tmp_path, monkeypatch):
    pm = PluginManager(entry_points=False)
    pm.register(ToyT2IPlugin(), "toy-t2i")
    reset_plugin_manager(pm)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    reset_plugin_manager(None)


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_prompts_are_checked_and_sampling_is_deterministic():
    torch.manual_seed(0)
    model = ToyT2I()
    prompts = ["a small red circle above a blue square", "a big green star"]
    a = model.sample(4, prompt=prompts, generator=3)
    b = model.sample(2, prompt=prompts, generator=3)
    assert torch.equal(a.data[:2], b.data) and a.conditions == prompts * 2
    assert not torch.equal(a.data[0], a.data[1])  # different prompts and noise
    with pytest.raises(BadInputError, match="'zebra'.*'unicorn'|zebra.*unicorn"):
        model.sample(1, prompt="a zebra and a unicorn")
    with pytest.raises(BadInputError, match="non-empty"):
        model.sample(1, prompt="   ")
    with pytest.raises(BadInputError, match="give a prompt"):
        model.sample(1)
    with pytest.raises(BadInputError, match="not a label"):
        model.sample(1, label=3)
    with pytest.raises(BadInputError, match="at most 18"):
        model.sample(1, prompt=" ".join(["red"] * 19))


def test_stage_truncation_and_attention_extras():
    model = ToyT2I()
    s = model.sample(3, prompt="a red circle", generator=0, stage=0)
    assert s.data.shape == (3, 3, 4, 4)
    t = model.sample(3, prompt="a red circle", generator=0, truncation=0.5)
    assert not torch.equal(t.data, model.sample(3, prompt="a red circle", generator=0).data)
    with pytest.raises(BadInputError, match="2 stages"):
        model.sample(1, prompt="a red circle", stage=5)
    out = model.sample(2, prompt=["a red circle", "a small blue square above a red star"], generator=0,
                       attention=True)
    maps = out.extras["attention"]
    assert maps.shape == (2, 18, 3, 8, 8)  # T = max_words: every batch has the same width
    assert maps[0, 3:].abs().sum() == 0  # words past "a red circle" stay black
    assert out.extras["attention_words"][0] == ["a", "red", "circle"]
    assert out[1:].extras["attention"].shape[0] == 1  # slicing keeps extras aligned
    many = model.sample(20, prompt=[f"a red {s}" for s in ("circle", "square")] * 8 + ["a small blue square above a red star"] * 4,
                        generator=0, attention=True)
    assert many.extras["attention"].shape[:2] == (20, 18)  # chunks of 16 with different longest prompts


def test_ca_noise_scales_the_conditioning_draws_only():
    model = ToyT2I()
    seen = []
    generate = model.generate
    model.generate = lambda noise, text, eps=None, attention=False: seen.append((noise, eps)) or generate(
        noise, text, eps, attention)
    base = model.sample(3, prompt="a red circle", generator=0)
    half = model.sample(3, prompt="a red circle", generator=0, ca_noise="0.5")  # CLI strings parse
    model.sample(3, prompt="a red circle", generator=0, ca_noise=0)
    (z1, e1), (z2, e2), (z3, e3) = seen
    assert torch.equal(z1, z2) and torch.equal(z1, z3)  # the noise draws stay the same
    assert torch.allclose(e2, e1 * 0.5) and torch.count_nonzero(e3) == 0 and torch.count_nonzero(e1) > 0
    assert not torch.equal(base.data, half.data)
    with pytest.raises(BadInputError, match="ca_noise must be 0 or more"):
        model.sample(1, prompt="a red circle", ca_noise=-1)
    model.c_dim = None  # a family without conditioning augmentation (GAN-INT-CLS)
    with pytest.raises(BadInputError, match="has no conditioning augmentation: drop ca_noise"):
        model.sample(1, prompt="a red circle", ca_noise=0.5)


def test_cli_sample_writes_attention_grid_and_reports_oov(t2i_env, capsys):
    ToyT2I().save_pretrained(t2i_env / "m")
    code, _, err = run(capsys, "sample", str(t2i_env / "m"), "--prompt", "a red circle", "-n", "2",
                       "-o", "out.png", "--attention")
    assert code == 0, err
    assert (t2i_env / "out.png").exists() and (t2i_env / "out.attention.png").exists()
    code, _, err = run(capsys, "sample", str(t2i_env / "m"), "--prompt", "a purple dragon")
    assert code == 1 and "'dragon'" in err and len(err.strip().splitlines()) == 1
    assert not (t2i_env / "m.png").exists()
    code, _, err = run(capsys, "sample", str(t2i_env / "m"))
    assert code == 1 and "give a prompt" in err


def test_convert_writes_a_folder_atomically_and_embeddings_sampling(t2i_env, capsys):
    import numpy as np

    original = ToyT2I(text_encoder=None, text_dim=6)
    torch.save({"module." + k: v for k, v in original.state_dict().items()}, t2i_env / "netG.pth")
    code, _, err = run(capsys, "convert", "toy-t2i", "netG.pth", "-o", "conv")
    assert code == 0, err
    assert json.loads((t2i_env / "conv" / "config.json").read_text())["zoo_family"] == "toy-t2i"
    code, _, err = run(capsys, "convert", "toy-t2i", "netG.pth", "-o", "conv")
    assert code == 1 and "not empty" in err
    code, _, err = run(capsys, "convert", "toy-t2i", "netG.pth", "-o", "conv2", "--bogus", "1")
    assert code == 1 and "bogus" in err and not (t2i_env / "conv2").exists()
    torch.save({"junk": torch.zeros(2)}, t2i_env / "bad.pth")
    code, _, err = run(capsys, "convert", "toy-t2i", "bad.pth", "-o", "conv3")
    assert code == 1 and "missing" in err and not (t2i_env / "conv3").exists()
    assert not [p for p in t2i_env.iterdir() if p.name.startswith(".conv")]  # no temporary left
    code, _, err = run(capsys, "convert", "nope", "netG.pth", "-o", "x")
    assert code == 1 and "unknown family" in err

    # the converted model has no text encoder: it samples from sentence embeddings
    np.save(t2i_env / "emb.npy", np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32))
    code, _, err = run(capsys, "sample", "conv", "--embeddings", "emb.npy", "-n", "4", "-o", "e.png")
    assert code == 0, err
    code, _, err = run(capsys, "sample", "conv", "--prompt", "a red circle")
    assert code == 1 and "no text encoder" in err
    code, _, err = run(capsys, "sample", "conv", "-n", "2")
    assert code == 1 and "--embeddings" in err
    from zoo_core.loading import load

    model = load(t2i_env / "conv")
    a = model.sample(4, generator=1, embeddings=str(t2i_env / "emb.npy")).data
    assert torch.equal(a[0], model.sample(5, generator=1, embeddings=str(t2i_env / "emb.npy")).data[0])
    # rows cycle by sample index, also across the fixed chunks of 16
    b = model.sample(20, generator=1, embeddings=str(t2i_env / "emb.npy")).data
    assert torch.equal(b[:4], a) and b.shape[0] == 20


def test_convert_refuses_pickled_code(t2i_env, capsys):
    import pickle

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (t2i_env / "evil.pth").write_bytes(pickle.dumps({"w": Evil()}))
    code, out, err = run(capsys, "convert", "toy-t2i", "evil.pth", "-o", "c")
    assert code == 1 and "refused to unpickle" in err and "pwned" not in out


@pytest.mark.slow
def test_eval_conditions_text_models_on_test_captions(t2i_env):
    from zoo_core.evaluation import evaluate

    torch.manual_seed(0)
    model = ToyT2I(size=64)
    model.spec = None
    report = evaluate(model, "caption_accuracy,r_precision", num_samples=100, reference="shapes:test")
    m, p = report["metrics"], report["protocol"]
    assert 0.0 <= m["caption_accuracy"] < 0.5  # an untrained toy rarely draws what the caption says
    assert 0.0 <= m["r_precision"] <= 1.0 and "r_precision_std" in m
    assert p["conditions"]["source"].startswith("shapes:test captions") and p["conditions"]["count"] == 5000
    assert p["r_precision"]["candidates"] == 100
    given = evaluate(model, "caption_accuracy", num_samples=4, reference="shapes:test",
                     condition=["a red circle"])
    assert given["protocol"]["conditions"] == {"source": "given", "count": 1}
    with pytest.raises(ZooError, match="does not apply"):
        from tests.toy import Toy

        evaluate(Toy(), "r_precision", num_samples=100, reference="digits")


def test_epoch_run_stops_at_its_step_limit_and_keeps_the_best_snapshot():
    from torch import nn

    from zoo_core.blocks.t2i_training import EpochRun

    net = nn.Linear(1, 1)
    scores = iter([0.2, 0.6, 0.4])

    def check() -> None:
        net.weight.data.fill_(next(scores) * 10)  # the weights of the moment carry their score
        s = float(net.weight.detach()) / 10
        run.offer(net, {"caption_accuracy": s / 2, "caption_accuracy_shape0": s})

    run = EpochRun(("loss",), max_steps=3, max_seconds=None, eval_every_s=0.0, check=check)
    stops = [run.record({"loss": float(i)}) for i in range(3)]
    row = run.end_epoch(0)
    assert stops == [False, False, True] and row["steps"] == 3 and row["loss"] == 1.0
    assert [e["train_attribute_accuracy"] for e in run.evals] == [0.2, 0.6, 0.4]
    assert run.best is not None and run.best[0] == 0.6 and float(run.best[1]["weight"]) == 6.0
    assert run.final(("loss", "missing")) == {"loss": 1.0}


def test_resolve_damsm_loads_a_named_folder_frozen_and_sets_the_vocabulary(tmp_path):
    from zoo_core.blocks.damsm_model import DAMSMEncoders
    from zoo_core.blocks.t2i_training import resolve_damsm

    saved = DAMSMEncoders(text_encoder="tiny", image_encoder="tiny")
    saved.save_pretrained(tmp_path / "damsm")
    cfg: dict = {}
    damsm = resolve_damsm(str(tmp_path / "damsm"), cfg, {"nhidden": 128})
    assert isinstance(damsm, DAMSMEncoders) and not damsm.training
    assert not any(p.requires_grad for p in damsm.parameters())
    assert cfg["vocab"] == saved.vocab.to_list()
    for a, b in zip(saved.state_dict().values(), damsm.state_dict().values()):
        assert torch.equal(a, b)
    assert resolve_damsm("auto", {}, {"nhidden": 128}) is None  # the config's encoder is not the shapes one
