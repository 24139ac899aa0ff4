"""Flows plugin (realnvp, glow, maf): invertibility, exact log-determinants, the MADE
autoregressive property, the shared data transform, seeded sampling with temperature,
ActNorm's saved initialisation, paper configs, training."""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from plugins.flows import dequantize as dq
from plugins.flows.config import CONFIGS
from plugins.flows.glow import Glow
from plugins.flows.layers import (MADE, ActNorm, AffineCoupling, BatchNormFlow, InvConv1x1, MAFLayer,
                                  squeeze2d, unsqueeze2d)
from plugins.flows.maf import MAF
from plugins.flows.realnvp import RealNVP, resnet
from plugins.flows.train import build, train
from zoo_core.errors import BadInputError
from zoo_core.rng import SampleRNG

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("realnvp", "glow", "maf")
torch.set_num_threads(1)


def perturb(module: torch.nn.Module, scale: float = 0.2, seed: int = 0) -> torch.nn.Module:
    """Move every parameter off its (often identity-making, zero) initialisation."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g) * scale)
    return module


def tiny(family: str, seed: int = 0):
    """A tiny model whose ActNorms are data-initialised and whose weights are perturbed."""
    torch.manual_seed(seed)
    model = build(family, CONFIGS[family]["tiny"])
    model.data_init(torch.rand(64, *model.image_shape, generator=torch.Generator().manual_seed(seed)))
    return perturb(model, 0.1, seed).eval()


def jacobian_logdet(fn, x: torch.Tensor) -> float:
    """log|det d fn(x) / dx| for one example, by autograd over the flattened input."""
    shape = x.shape

    def flat(v: torch.Tensor) -> torch.Tensor:
        out = fn(v.reshape(shape))
        return out.reshape(-1)

    jac = torch.autograd.functional.jacobian(flat, x.reshape(-1))
    return float(torch.linalg.slogdet(jac.double())[1])


def x01(n: int, shape, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, *shape, generator=torch.Generator().manual_seed(seed)) * 0.9 + 0.05


# -- registration ------------------------------------------------------------------------------
def test_registration_names_three_families_without_importing_torch():
    code = ("import sys, plugins.flows as p; fams = p.zoo_families(); "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "print(' '.join(f.name + '=' + f.model_class for f in fams))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["realnvp=plugins.flows.realnvp:RealNVP", "glow=plugins.flows.glow:Glow",
                                  "maf=plugins.flows.maf:MAF"]


# -- layers: invertibility and log-determinants -------------------------------------------------
def _layers():
    torch.manual_seed(0)
    net = resnet(8, 1)
    return {
        "coupling-checkerboard-tanh": AffineCoupling(1, net, "checkerboard", 0, "tanh"),
        "coupling-checkerboard-odd": AffineCoupling(2, net, "checkerboard", 1, "tanh"),
        "coupling-channel-tanh": AffineCoupling(4, net, "channel", 1, "tanh"),
        "coupling-channel-sigmoid": AffineCoupling(4, net, "channel", 0, "sigmoid"),
        "coupling-channel-additive": AffineCoupling(4, net, "channel", 0, "additive"),
        "actnorm": ActNorm(4),
        "invconv-lu": InvConv1x1(4, lu=True),
        "invconv-plain": InvConv1x1(4, lu=False),
    }


def _input_for(name: str) -> torch.Tensor:
    channels = 1 if name == "coupling-checkerboard-tanh" else 2 if name.endswith("odd") else 4
    return torch.randn(3, channels, 4, 4, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name", list(_layers()))
def test_layer_inverse_and_logdet_match_autograd(name):
    layer = perturb(_layers()[name]).eval()
    x = _input_for(name)
    y, logdet = layer(x)
    assert y.shape == x.shape and logdet.shape == (3,)
    assert torch.allclose(layer.inverse(y), x, atol=1e-4)
    for i in range(len(x)):
        expected = jacobian_logdet(lambda v: layer(v)[0], x[i:i + 1])
        assert logdet[i].item() == pytest.approx(expected, abs=1e-3)


def test_checkerboard_and_channel_couplings_leave_their_conditioning_half_unchanged():
    x = torch.randn(2, 4, 4, 4)
    cb = perturb(AffineCoupling(4, resnet(8, 1), "checkerboard", 0, "tanh"))
    y, _ = cb(x)
    ii, jj = torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij")
    keep = (ii + jj) % 2 == 0
    assert torch.equal(y[..., keep], x[..., keep]) and not torch.allclose(y[..., ~keep], x[..., ~keep])
    ch = perturb(AffineCoupling(4, resnet(8, 1), "channel", 0, "tanh"))
    y, _ = ch(x)
    assert torch.equal(y[:, :2], x[:, :2]) and not torch.allclose(y[:, 2:], x[:, 2:])


def test_squeeze_is_a_volume_preserving_permutation():
    x = torch.randn(2, 3, 4, 6)
    s = squeeze2d(x)
    assert s.shape == (2, 12, 2, 3)
    assert torch.equal(unsqueeze2d(s), x)
    assert torch.equal(s.flatten().sort().values, x.flatten().sort().values)
    assert torch.equal(s[0, :4, 0, 0], x[0, 0, :2, :2].flatten())  # a 2x2 block becomes 4 channels


def test_actnorm_initialises_from_data_once_and_normalises_it():
    an = ActNorm(3).train()
    x = torch.randn(64, 3, 4, 4) * torch.tensor([2.0, 0.5, 3.0]).view(1, 3, 1, 1) + 5
    y, _ = an(x)
    assert bool(an.initialized)
    assert torch.allclose(y.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(y.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-3)
    before = {k: v.clone() for k, v in an.state_dict().items()}
    an(torch.randn(8, 3, 4, 4))  # a second batch must not re-initialise
    assert all(torch.equal(before[k], v) for k, v in an.state_dict().items())
    assert "initialized" in an.state_dict()


def test_uninitialised_actnorm_in_eval_mode_is_the_identity():
    an = ActNorm(2).eval()
    x = torch.randn(4, 2, 3, 3)
    y, logdet = an(x)
    assert torch.equal(y, x) and torch.equal(logdet, torch.zeros(4)) and not bool(an.initialized)


def test_invconv_starts_as_a_rotation():
    w, logdet = InvConv1x1(6, lu=True).matrix()
    assert torch.allclose(w @ w.T, torch.eye(6), atol=1e-5)
    assert abs(float(logdet.detach())) < 1e-5


def test_batchnorm_flow_inverse_and_logdet_in_eval_mode():
    bn = BatchNormFlow(5).train()
    bn(torch.randn(256, 5) * 3 + 1)  # running statistics move toward the batch
    perturb(bn).eval()
    x = torch.randn(3, 5)
    y, logdet = bn(x)
    assert torch.allclose(bn.inverse(y), x, atol=1e-4)
    assert logdet[0].item() == pytest.approx(jacobian_logdet(lambda v: bn(v)[0], x[:1]), abs=1e-4)


# -- MADE / MAF ---------------------------------------------------------------------------------
@pytest.mark.parametrize("reverse", [False, True])
def test_made_output_d_depends_only_on_earlier_inputs(reverse):
    dim = 6
    made = perturb(MADE(dim, [12, 12], reverse=reverse), scale=0.5)
    order = made.order
    allowed = order[:, None] > order[None, :]  # output d may depend on input j iff order[j] < order[d]
    total = torch.zeros(2, dim, dim)
    for seed in range(4):
        x = torch.randn(dim, generator=torch.Generator().manual_seed(seed))
        jac_mu, jac_a = torch.autograd.functional.jacobian(lambda v: made(v[None]), x)
        for k, jac in enumerate((jac_mu[0], jac_a[0])):  # (dim outputs, dim inputs)
            assert torch.all(jac[~allowed] == 0)
            total[k] += jac.abs()
    assert torch.all(total[:, allowed] > 0)  # and it does depend on every earlier input
    first = int(torch.argmin(order))  # the first variable in the order gets constant (mu, a)
    assert torch.all(total[:, first] == 0)


def test_maf_layer_jacobian_is_triangular_in_its_order_and_inverts():
    dim = 5
    layer = perturb(MAFLayer(dim, [10], reverse=True), scale=0.5)
    x = torch.randn(1, dim)
    jac = torch.autograd.functional.jacobian(lambda v: layer(v)[0], x)[0, :, 0]
    order = layer.made.order
    later = order[None, :] > order[:, None]  # du_d / dx_j for j after d in the order
    assert torch.all(jac[later] == 0)
    u, logdet = layer(x)
    assert logdet.item() == pytest.approx(float(torch.log(torch.diagonal(jac).abs()).sum()), abs=1e-4)
    assert torch.allclose(layer.inverse(u), x, atol=1e-4)


def test_maf_orders_alternate_between_layers():
    maf = MAF(**CONFIGS["maf"]["tiny"])
    orders = [m.made.order.tolist() for m in maf.made_layers()]
    assert orders[0] == sorted(orders[0]) and orders[1] == sorted(orders[1], reverse=True)


# -- whole models -------------------------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_model_inverse_of_forward_is_identity(family):
    model = tiny(family)
    x = x01(4, model.image_shape)
    eps, _ = model.encode(x)
    assert eps.shape == (4, model.data_dim)
    assert torch.allclose(model.decode(eps), x, atol=1e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_log_prob_is_change_of_variables_with_autograd_jacobian(family):
    """log p(x) = log N(f(x)) + log|det df/dx| with the Jacobian of the whole pixel -> latent map
    (logit transform included) computed by autograd on 1x4x4 inputs."""
    model = tiny(family)
    x = x01(2, model.image_shape, seed=3)
    eps, logdet = model.encode(x)
    logp = model.log_prob(x)
    for i in range(len(x)):
        expected = jacobian_logdet(lambda v: model.encode(v)[0], x[i:i + 1])
        assert logdet[i].item() == pytest.approx(expected, abs=1e-3)
        normal = -0.5 * (eps[i].detach().pow(2).sum() + model.data_dim * math.log(2 * math.pi))
        assert logp[i].item() == pytest.approx(float(normal) + expected, abs=1e-3)


@pytest.mark.parametrize("family", FAMILIES)
def test_bits_per_dim_follows_the_documented_formula(family):
    model = tiny(family)
    x = x01(3, model.image_shape, seed=4)
    d, k = model.data_dim, model.num_bins
    raw = model.bits_per_dim(x, dequantize=False)
    assert torch.allclose(raw, (-model.log_prob(x) / (d * math.log(2)) + math.log2(k - 1)).double(), atol=1e-5)
    # with dequantisation: the same as scoring the seeded dequantised point, which lies in x's cell
    y = dq.dequantize(x, k, torch.Generator().manual_seed(7))
    assert torch.all((y - dq.discretize(x, k) / (k - 1)).abs() <= 0.5 / (k - 1))
    assert torch.allclose(model.bits_per_dim(x, generator=7), model.bits_per_dim(y, dequantize=False))
    assert torch.equal(model.bits_per_dim(x, generator=7), model.bits_per_dim(x, generator=7))
    assert not torch.equal(model.bits_per_dim(x, generator=7), model.bits_per_dim(x, generator=8))


@pytest.mark.parametrize("k", [17, 256])
def test_pixel_transform_round_trip_and_jacobian(k):
    x = torch.rand(2, 1, 3, 3)
    v, logdet = dq.pixels_to_logit(x, k, 0.05)
    assert torch.allclose(dq.logit_to_pixels(v, k, 0.05), x, atol=1e-5)
    expected = jacobian_logdet(lambda t: dq.pixels_to_logit(t, k, 0.05)[0], x[:1])
    assert logdet[0].item() == pytest.approx(expected, abs=1e-4)


def test_dequantisation_fills_each_level_cell_and_discrete_levels_survive_it():
    k = 17
    levels = torch.arange(k, dtype=torch.float32) / (k - 1)  # the digits' native grey levels
    x = levels.repeat(200).view(-1, 1, 1, 1)
    noisy = dq.dequantize(x, k, torch.Generator().manual_seed(0))
    assert torch.equal(dq.discretize(noisy, k), dq.discretize(x, k))  # rounding undoes the noise
    offset = (noisy - x) * (k - 1)  # uniform on [-1/2, 1/2): the cell of width 1/(K-1) around x
    assert offset.min() >= -0.5 and offset.max() < 0.5 and offset.std() > 0.25


def test_log_prob_rejects_wrong_shapes():
    model = tiny("realnvp")
    with pytest.raises(BadInputError, match="shape"):
        model.log_prob(torch.rand(2, 1, 8, 8))


# -- sampling ------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_seeded_sampling_is_deterministic_and_per_sample(family):
    model = tiny(family)
    a = model.sample(5, generator=0).data
    assert a.shape == (5, *model.image_shape) and 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, model.sample(5, generator=0).data)
    assert torch.equal(a[:3], model.sample(3, generator=0).data)
    assert not torch.equal(a, model.sample(5, generator=1).data)
    # sample i depends only on its own generator, not on the batch it is drawn in
    gens = lambda: [torch.Generator().manual_seed(s) for s in (11, 12, 13)]  # noqa: E731
    three = model.sample(3, generator=gens()).data
    one = model.sample(1, generator=gens()[1:2]).data
    assert torch.allclose(three[1:2], one, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_temperature_scales_the_latent(family):
    model = tiny(family)
    t = 0.6
    got = model.sample(4, generator=3, temperature=t).data
    eps = SampleRNG.from_seed(3, 0, 16).randn(model.data_dim)[:4]
    assert torch.allclose(got, model.decode(t * eps), atol=1e-6)
    cold = model.sample(3, generator=3, temperature=0.0).data  # T = 0: every sample is f^-1(0)
    assert torch.allclose(cold, cold[:1].expand_as(cold))
    with pytest.raises(BadInputError):
        model.sample(1, generator=0, temperature=-1.0)


def test_temperature_option_parses_from_strings():
    s = tiny("glow").get_sampler("ancestral", temperature="0.7")
    assert s.temperature == pytest.approx(0.7)


# -- configs and persistence -----------------------------------------------------------------------
def test_paper_configs_instantiate_with_the_papers_structure():
    glow = Glow(**CONFIGS["glow"]["paper"])
    cfg = CONFIGS["glow"]["paper"]
    assert len(glow.levels) == cfg["num_levels"]
    assert all(len(level.steps) == cfg["depth"] for level in glow.levels)
    assert len(glow.actnorms()) == cfg["num_levels"] * cfg["depth"] * 3  # flow + 2 in each coupling net
    assert glow.image_shape == (3, 32, 32)
    nvp = RealNVP(**CONFIGS["realnvp"]["paper"])
    n_couplings = sum(isinstance(m, AffineCoupling) for m in nvp.modules())
    assert n_couplings == 6 * (nvp.num_scales - 1) + 4
    maf = MAF(**CONFIGS["maf"]["paper"])
    mades = [m for m in maf.modules() if isinstance(m, MAFLayer)]
    assert len(mades) == CONFIGS["maf"]["paper"]["num_layers"] and maf.data_dim == 784
    linear = [m for m in mades[0].modules() if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linear[:-1]] == CONFIGS["maf"]["paper"]["hidden_sizes"]


@pytest.mark.parametrize("family", FAMILIES)
def test_small_config_fits_the_weights_budget(family):
    model = build(family, CONFIGS[family]["small"])
    assert model.num_parameters() * 4 <= 2_500_000
    assert model.sample(2, generator=0).data.shape == (2, *model.image_shape)


@pytest.mark.parametrize("family", FAMILIES)
def test_save_and_load_keep_the_actnorm_initialisation_and_likelihood(family, tmp_path):
    torch.manual_seed(0)
    data = x01(48, (1, 4, 4), seed=5)
    model, report = train(family, "tiny", data=data, test_data=data[:8], max_steps=3, log=None)
    model.save_pretrained(tmp_path)
    loaded = type(model).from_pretrained(str(tmp_path)).eval()
    x = data[:4]
    assert torch.allclose(loaded.log_prob(x), model.log_prob(x), atol=1e-5)
    actnorms = [m for m in loaded.modules() if isinstance(m, ActNorm)]
    if family == "glow":
        assert actnorms and all(bool(a.initialized) for a in actnorms)
        before = {k: v.clone() for k, v in loaded.state_dict().items()}
        loaded.train()
        loaded.log_prob(torch.rand(8, 1, 4, 4))  # a training-mode pass must not re-initialise
        after = loaded.state_dict()
        assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("family", FAMILIES)
def test_training_lowers_bits_per_dim_and_reports_test_bits_per_dim(family):
    torch.manual_seed(0)
    data = x01(64, (1, 4, 4), seed=6)
    start = build(family, CONFIGS[family]["tiny"])
    torch.manual_seed(0)
    model, report = train(family, "tiny", data=data, test_data=data[:16], epochs=6, batch_size=16,
                          lr=3e-3, log=None)
    assert report["recipe"]["steps"] == 6 * (64 // 16)
    m = report["metrics"]
    assert math.isfinite(m["test_bits_per_dim"]) and m["bits_per_dim_levels"] == CONFIGS[family]["tiny"]["num_bins"]
    start.data_init(dq.dequantize(data, start.num_bins, torch.Generator().manual_seed(0)))
    start.eval()
    assert model.bits_per_dim(data).mean() < start.bits_per_dim(data).mean()


# -- the bundled weights -------------------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_bundled_weights_reproduce_the_card_bits_per_dim(family):
    """The mirror copy loads strictly, ActNorms come back initialised, and the test-split bits/dim
    recorded in registry.yaml is what the weights give (same seeded dequantisation)."""
    import yaml

    from plugins.flows.train import evaluate_bpd
    from zoo_core.data.digits import load_digits

    entry = (yaml.safe_load((ROOT / "registry.yaml").read_text()) or {}).get("models", {}).get(f"{family}.digits")
    folder = ROOT / "hub" / entry["repo_id"] if entry else None
    if not entry or not (folder / "model.safetensors").exists():
        pytest.skip(f"{family}.digits is not published in this checkout")
    model = {"realnvp": RealNVP, "glow": Glow, "maf": MAF}[family].from_pretrained(str(folder)).eval()
    assert all(bool(m.initialized) for m in model.modules() if isinstance(m, ActNorm))
    test = load_digits("test", size=model.image_shape[1])
    bpd, _ = evaluate_bpd(model, test)
    assert bpd == pytest.approx(entry["metrics"]["test_bits_per_dim"], abs=2e-3)
