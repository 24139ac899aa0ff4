"""The discriminators' auxiliary attribute heads (-K d_aux / g_aux, a deviation from the papers)."""
from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from zoo_core.blocks.attn_discriminators import discriminator_loss, generator_adversarial_loss, make_discriminator
from zoo_core.blocks.aux_attributes import CLASSES, AttributeHead, attribute_loss, pretrain_heads
from zoo_core.data.shapes import ATTRIBUTES, generate


def _labels(n: int) -> torch.Tensor:
    return torch.as_tensor(generate("train", n).labels, dtype=torch.long)


def test_attribute_loss_is_the_mean_cross_entropy_and_shape_accuracy_counts_shape_columns():
    torch.manual_seed(0)
    head = AttributeHead(10)
    code, labels = torch.randn(6, 10), _labels(6)
    loss, shape_hits = attribute_loss(head, code, labels)
    logits = head(code)
    assert [lg.shape[1] for lg in logits] == [len(v) for v in ATTRIBUTES.values()] == CLASSES
    expected = sum(F.cross_entropy(lg, labels[:, j]) for j, lg in enumerate(logits)) / len(CLASSES)
    assert torch.allclose(loss, expected)
    # a head whose logits put all weight on the true value scores 1 on the shapes, loss near 0
    offsets = torch.tensor([0, *CLASSES]).cumsum(0)[:-1]
    one_hot = torch.zeros(6, sum(CLASSES)).scatter_(1, labels + offsets, 50.0)
    head.forward = lambda code: list(one_hot.split(CLASSES, 1))  # type: ignore[method-assign]
    loss, shape_hits = attribute_loss(head, code, labels)
    assert shape_hits == 1.0 and float(loss) < 1e-6


def test_discriminator_and_generator_losses_add_the_weighted_attribute_terms():
    torch.manual_seed(0)
    netD = make_discriminator(64, 4, 8)
    head = AttributeHead(4 * 8 * 16)
    real, fake, sent, labels = torch.randn(4, 3, 64, 64), torch.randn(4, 3, 64, 64), torch.randn(4, 8), _labels(4)
    netD.eval()  # batch norm from running statistics: the same code in every call
    plain, _ = discriminator_loss(netD, real, fake, sent)
    with_aux, stats = discriminator_loss(netD, real, fake, sent, aux=(head, labels, 3.0))
    term, hits = attribute_loss(head, netD(real), labels)
    assert torch.allclose(with_aux, plain + 3.0 * term) and stats["d_aux_shape"] == hits
    g_plain = generator_adversarial_loss([netD], [fake], sent)
    g_aux = generator_adversarial_loss([netD], [fake], sent, ([head], labels, 0.5))
    assert torch.allclose(g_aux, g_plain + 0.5 * attribute_loss(head, netD(fake), labels)[0])


def test_soften_has_the_heads_read_softened_images_from_64_pixels_on():
    from zoo_core.blocks.soften import soften

    torch.manual_seed(0)
    sent, labels = torch.randn(4, 8), _labels(4)
    for size, softened in ((64, True), (32, False)):
        netD, head = make_discriminator(size, 4, 8).eval(), AttributeHead(4 * 8 * 16)
        real, fake = torch.randn(4, 3, size, size), torch.randn(4, 3, size, size)
        plain, _ = discriminator_loss(netD, real, fake, sent)
        soft, _ = discriminator_loss(netD, real, fake, sent, aux=(head, labels, 2.0), aux_soften=True)
        read = soften(real) if softened else real
        assert torch.allclose(soft, plain + 2.0 * attribute_loss(head, netD(read), labels)[0])
        g_plain = generator_adversarial_loss([netD], [fake], sent)
        g_soft = generator_adversarial_loss([netD], [fake], sent, ([head], labels, 0.5), aux_soften=True)
        read = soften(fake) if softened else fake
        assert torch.allclose(g_soft, g_plain + 0.5 * attribute_loss(head, netD(read), labels)[0])
    assert not torch.allclose(soften(real), real)


def test_pretraining_teaches_trunk_and_head_the_real_images_attributes():
    torch.manual_seed(0)
    netD, head = make_discriminator(32, 4, 8), AttributeHead(4 * 8 * 16)
    data = generate("train", 16)
    x = F.interpolate(data.images.float() / 127.5 - 1, size=(32, 32), mode="bilinear", antialias=True)
    labels = torch.as_tensor(data.labels, dtype=torch.long)
    trunk = netD.img_code_s8[0].weight.detach().clone()
    before = float(attribute_loss(head, netD(x), labels)[0].detach())
    pretrain_heads([netD], [head], [x], labels, 60, batch_size=16, lr=3e-3)
    loss, shape_hits = attribute_loss(head, netD(x), labels)
    assert not torch.equal(trunk, netD.img_code_s8[0].weight)  # the trunk learns too, not only the head
    assert float(loss.detach()) < before / 3 and shape_hits > 0.8


def test_training_with_heads_saves_them_and_continues_an_older_state(attngan_tiny_run):
    from plugins.attngan.train import train

    damsm, data, state, folder = (attngan_tiny_run.damsm, attngan_tiny_run.data, attngan_tiny_run.state,
                                  attngan_tiny_run.folder)
    assert not any(k.startswith("auxD") for k in load_file(str(state)))
    # a state written without heads continues with fresh ones, which are then saved
    logs: list[str] = []
    _, report = train("tiny", steps=2, data=data, damsm=damsm, init_from=folder,
                      disc_state=str(state), d_aux=1.0, d_aux_pretrain=3, log=logs.append)
    saved = load_file(str(state))
    assert saved["auxD0/fc.weight"].shape == (sum(CLASSES), 4 * 8 * 16)
    assert float(saved["opt_aux0@0/step"]) == 2.0
    assert any("d_aux_shape" in line for line in logs)
    assert any(line.startswith("discriminators pretrained 3 steps on attributes") for line in logs)
    assert report["recipe"]["auxiliary_attributes"].endswith("(weight 1), first trained 3 steps on that alone "
                                                             "(batch 64, Adam lr 0.001)")
    # the generator's term changes what it learns
    params = lambda m: torch.cat([p.detach().flatten() for p in m.generator_parameters()])  # noqa: E731
    runs = [train("tiny", steps=2, data=data, damsm=damsm, init_from=folder, d_aux=1.0, g_aux=g,
                  log=None)[0] for g in (0.0, 5.0)]
    assert not torch.allclose(params(runs[0]), params(runs[1]))


def test_aux_weights_are_checked():
    from plugins.attngan.config import TRAINING
    from plugins.attngan.train import train
    from zoo_core.blocks.attn_training import recipe_with

    assert recipe_with(TRAINING, None, d_aux=0, g_aux=0)["d_aux"] == 0.0
    with pytest.raises(ValueError, match="d_aux must be zero or more"):
        recipe_with(TRAINING, None, d_aux=-1)
    with pytest.raises(ValueError, match="g_aux needs the heads trained on real images"):
        train("tiny", steps=1, g_aux=1.0, log=None)
    with pytest.raises(ValueError, match="d_aux_pretrain trains the heads of d_aux"):
        train("tiny", steps=1, d_aux_pretrain=5, log=None)
    with pytest.raises(ValueError, match="d_aux_pretrain must be a whole number of at least 0"):
        recipe_with(TRAINING, None, d_aux_pretrain=2.5)
    assert recipe_with(TRAINING, None, soften=True)["soften"] is True
    with pytest.raises(ValueError, match="soften must be true or false, not 1"):
        recipe_with(TRAINING, None, soften=1)
    with pytest.raises(ValueError, match="soften acts on the attribute heads: give d_aux too"):
        train("tiny", steps=1, soften=True, log=None)


def test_soften_ranks_the_checks_by_their_softened_scores(attngan_tiny_run):
    from plugins.attngan.train import train

    def checks():  # drawn scores fall while softened ones rise: the two rankings disagree
        calls = itertools.count(1)

        def evaluate(model):
            i = min(next(calls), 3)  # the report's final evaluation calls once more
            return {"caption_accuracy": 0.5, "caption_accuracy_shape0": 1 - i / 10,
                    "softened_caption_accuracy_shape0": i / 10}
        return evaluate

    kept = {soft: train("tiny", steps=3, data=attngan_tiny_run.data, damsm=attngan_tiny_run.damsm, d_aux=1.0,
                        soften=soft, keep_best=True, evaluate=checks(), eval_every=1, log=None)[1]
            for soft in (False, True)}
    assert kept[False]["recipe"]["snapshot"].startswith("the averaged weights at step 1,")
    assert kept[True]["recipe"]["snapshot"].startswith("the averaged weights at step 3,")
    assert kept[True]["recipe"]["snapshot"].endswith("of the checks on training captions, their images softened")
    assert "the checks are ranked by their softened scores" in kept[True]["recipe"]["auxiliary_attributes"]
    with pytest.raises(ValueError, match="soften ranks the checks by softened scores, and the evaluator gave none"):
        train("tiny", steps=1, data=attngan_tiny_run.data, damsm=attngan_tiny_run.damsm, d_aux=1.0, soften=True,
              keep_best=True, evaluate=lambda model: {"caption_accuracy_shape0": 0.5}, eval_every=1, log=None)


def test_gan_int_cls_heads_train_save_and_steer_the_generator(tmp_path):
    from plugins.gan_int_cls.model import GANINTCLS
    from plugins.gan_int_cls.train import train
    from zoo_core.data.shapes import load_shapes

    x, caps, labels = load_shapes("train", with_captions=True, with_attributes=True, n=16)
    state = tmp_path / "disc.safetensors"
    _, plain = train("tiny", data=(x, caps), max_steps=1, disc_state=str(state), log=None)
    assert "auxiliary_attributes" not in plain["recipe"] and "d_aux_shape" not in plain["final"]
    # an older state without a head continues with a fresh one, which is then saved with its moments
    torch.manual_seed(0)
    model, report = train("tiny", data=(x, caps), labels=labels, max_steps=2, disc_state=str(state), d_aux=1.0,
                          g_aux=1.0, log=None)
    saved = load_file(str(state))
    assert saved["aux/fc.weight"].shape == (sum(CLASSES), 4 * 8 * 16) and float(saved["opt_aux@0/step"]) == 2.0
    assert 0 <= report["final"]["d_aux_shape"] <= 1 and 0 <= report["final"]["g_aux_shape"] <= 1
    assert report["recipe"]["auxiliary_attributes"].endswith("as their captions' attributes (weight 1)")
    # the generator's term changes what it learns
    params = lambda m: torch.cat([p.detach().flatten() for p in m.generator_parameters()])  # noqa: E731
    runs = []
    for g in (0.0, 5.0):
        torch.manual_seed(0)
        runs.append(train("tiny", data=(x, caps), labels=labels, max_steps=2, d_aux=1.0, g_aux=g, log=None)[0])
    assert not torch.allclose(params(runs[0]), params(runs[1]))
    assert isinstance(runs[0], GANINTCLS)


def test_gan_int_cls_head_settings_are_checked():
    from plugins.gan_int_cls.train import train
    from zoo_core.data.shapes import load_shapes

    x, caps, labels = load_shapes("train", with_captions=True, with_attributes=True, n=8)
    with pytest.raises(ValueError, match="g_aux needs the heads trained on real images"):
        train("tiny", data=(x, caps), max_steps=1, g_aux=1.0, log=None)
    with pytest.raises(ValueError, match="pass labels= with data"):
        train("tiny", data=(x, caps), max_steps=1, d_aux=1.0, log=None)
    with pytest.raises(ValueError, match="labels has 4 rows for 8 images"):
        train("tiny", data=(x, caps), labels=labels[:4], max_steps=1, d_aux=1.0, log=None)
    with pytest.raises(ValueError, match="d_aux must be zero or more"):
        train("tiny", data=(x, caps), labels=labels, max_steps=1, d_aux=-1.0, log=None)


def test_stackgan_pp_heads_read_every_branch_and_steer_the_generator(tmp_path):
    from plugins.stackgan_pp.train import train
    from zoo_core.data.shapes import generate

    data = generate("train", n=16)
    # the discriminators' state: written without heads, continued with fresh ones, saved with them
    state = tmp_path / "disc.safetensors"
    train("tiny", data=(data.images, data.captions), max_steps=1, eval_every=None, disc_state=state, log=None)
    assert not any(k.startswith("auxD") for k in load_file(str(state)))
    logs: list[str] = []
    train("tiny", data=(data.images, data.captions), labels=data.labels, max_steps=2, eval_every=None,
          disc_state=state, d_aux=1.0, log=logs.append)
    saved = load_file(str(state))
    assert float(saved["opt_d0@0/step"]) == 3.0 and float(saved["opt_aux2@0/step"]) == 2.0
    assert any(line.startswith(f"discriminators and optimiser moments continued from {state}") for line in logs)
    params = lambda m: torch.cat([p.detach().flatten() for p in m.generator_parameters()])  # noqa: E731
    runs = [train("tiny", data=(data.images, data.captions), labels=data.labels, max_steps=2, eval_every=None,
                  d_aux=1.0, g_aux=g, log=None) for g in (0.0, 5.0)]
    (plain, plain_report), (steered, report) = runs
    assert 0 <= report["final"]["d_aux_shape"] <= 1 and 0 <= report["final"]["g_aux_shape"] <= 1
    assert "g_aux_shape" not in plain_report["final"]
    assert report["recipe"]["auxiliary_attributes"].startswith("a deviation: each discriminator's image code")
    assert not torch.allclose(params(plain), params(steered))
    with pytest.raises(ValueError, match="pass labels= with data"):
        train("tiny", data=(data.images, data.captions), max_steps=1, eval_every=None, d_aux=1.0, log=None)
    with pytest.raises(ValueError, match="g_aux needs the heads"):
        train("tiny", data=(data.images, data.captions), max_steps=1, eval_every=None, g_aux=1.0, log=None)


def test_stackgan_pp_losses_add_exactly_the_weighted_head_terms():
    from plugins.stackgan_pp.config import CONFIGS, TRAINING
    from plugins.stackgan_pp.losses import discriminator_loss, generator_loss
    from plugins.stackgan_pp.model import StackGANpp

    torch.manual_seed(0)
    model = StackGANpp(**CONFIGS["tiny"])
    d = model.make_discriminators()[-1].eval()  # eval: batch norm gives the same output on each call
    size = d.image_size
    real, wrong, fake = (torch.rand(4, 3, size, size) * 2 - 1 for _ in range(3))
    mu = torch.randn(4, d.ef_dim)
    labels = torch.stack([torch.randint(0, c, (4,)) for c in CLASSES], 1)
    head = AttributeHead(d.df_dim * 8 * 4 * 4)
    plain, _ = discriminator_loss(d, real, wrong, fake, mu)
    with_aux, stats = discriminator_loss(d, real, wrong, fake, mu, aux=(head, labels, 2.0))
    term, hits = attribute_loss(head, d.encode(real), labels)
    assert torch.allclose(with_aux, plain + 2.0 * term) and stats["d_aux_shape"] == hits
    hp = {**TRAINING, "color": 0.0}
    logvar = torch.zeros_like(mu)
    g_plain, _ = generator_loss([d], [fake], mu, logvar, hp)
    g_aux, g_stats = generator_loss([d], [fake], mu, logvar, hp, ([head], labels, 0.5))
    assert torch.allclose(g_aux, g_plain + 0.5 * attribute_loss(head, d.encode(fake), labels)[0])
    assert g_stats["g_aux_shape"] == attribute_loss(head, d.encode(fake), labels)[1]


def test_stackgan_heads_train_per_stage_and_steer_the_generator():
    from plugins.stackgan.train import train
    from zoo_core.blocks.aux_attributes import aux_log
    from zoo_core.data.shapes import load_shapes

    x, caps, labels = load_shapes("train", with_captions=True, with_attributes=True, n=16, size=32)
    params = lambda m: torch.cat([p.detach().flatten() for p in m.STAGE1_G.parameters()])  # noqa: E731
    logs: list[str] = []
    runs = [train("tiny", data=(x, caps), labels=labels, max_steps=2, stages=1, d_aux=1.0, g_aux=g,
                  log=logs.append if g else None) for g in (0.0, 5.0)]
    (plain, _), (steered, report) = runs
    final = report["stages"][0]["final"]
    assert 0 <= final["d_aux_shape"] <= 1 and 0 <= final["g_aux_shape"] <= 1
    assert any("aux shape D" in line for line in logs)
    assert report["recipe"]["auxiliary_attributes"].endswith("(weight 5)")
    assert not torch.allclose(params(plain), params(steered))
    assert aux_log({"d_aux_shape": 0.5}) == "  aux shape D 0.50" and aux_log({}) == ""
    with pytest.raises(ValueError, match="pass labels= with data"):
        train("tiny", data=(x, caps), max_steps=1, stages=1, d_aux=1.0, log=None)


@pytest.mark.slow
@pytest.mark.parametrize("family", ["gan_int_cls", "stackgan"])
def test_heads_on_the_default_data_keep_the_caption_checks(family):
    """With no ``data``, the labels come from the train split and the published classifier
    still checks and scores the run (it is skipped only for data a caller brings)."""
    import importlib

    train = importlib.import_module(f"plugins.{family}.train").train
    kwargs = {"stages": 1} if family == "stackgan" else {}
    _, report = train("tiny", max_steps=2, d_aux=1.0, eval_every_s=1e9, log=None, **kwargs)
    assert 0 <= report["metrics"]["caption_accuracy"] <= 1
    evals = report["stages"][0]["evaluations"] if family == "stackgan" else report["evaluations"]
    assert len(evals) == 1  # the final check of the kept snapshot
