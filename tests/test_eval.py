"""`zoo eval` in code: torch-fidelity parity, metric sanity on digits, the protocol record, plugins."""
from __future__ import annotations

import math

import pytest
import torch

from zoo_core.evaluation import evaluate
from zoo_core.evaluation.context import RealData
from zoo_core.evaluator import Evaluator, EvaluatorInfo
from zoo_core.hookspecs import hookimpl
from zoo_core.model import GenerativeModel


@pytest.fixture(scope="module")
def shared_dirs(tmp_path_factory):
    return tmp_path_factory.mktemp("hf-eval"), tmp_path_factory.mktemp("eval-cache")


@pytest.fixture
def eval_env(shared_dirs, monkeypatch):
    """One HF cache (the extractor is pulled from the bundled mirror once) and one feature cache.

    BLAS runs single-threaded: KID's small kernel matrices are several times slower with
    OpenBLAS threads spinning on a shared, busy machine.
    """
    from threadpoolctl import threadpool_limits

    hf, cache = shared_dirs
    monkeypatch.setenv("HF_HUB_CACHE", str(hf))
    monkeypatch.setenv("ZOO_EVAL_CACHE", str(cache))
    with threadpool_limits(limits=1, user_api="blas"):
        yield cache


def catalog_has(name: str) -> bool:
    from zoo_core.catalog import get_catalog

    return name in get_catalog().specs


def untrained_dcgan():
    from plugins.dcgan.model import DCGAN

    torch.manual_seed(0)
    return DCGAN(image_size=32, channels=1, nz=100, ngf=16).eval()


def direct(images1_01, images2_01, extractor, seed, **flags):
    """torch_fidelity.calculate_metrics on the two image sets, as a user would call it."""
    import torch_fidelity

    from zoo_core.evaluation.fidelity import ImageDataset, to_uint8_rgb

    kid = min(1000, len(images1_01), len(images2_01))
    return torch_fidelity.calculate_metrics(
        input1=ImageDataset(to_uint8_rgb(images1_01)), input2=ImageDataset(to_uint8_rgb(images2_01)),
        feature_extractor=extractor["name"], feature_extractor_weights_path=extractor["weights"],
        rng_seed=seed, kid_subset_size=kid, cuda=False, cache=False, save_cpu_ram=True, verbose=False, **flags)


def test_fid_kid_isc_equal_a_direct_torch_fidelity_call(eval_env):
    """Real test split scored against the train split, through the zoo and directly."""
    from zoo_core.datasets import load_dataset

    ours = evaluate(RealData("digits", "test"), metrics=["fid", "kid", "isc"], num_samples=100, seed=3,
                    reference="digits")
    ext = ours["protocol"]["feature_extractor"]
    theirs = direct(load_dataset("digits", "test")[:100], load_dataset("digits", "train"), ext, 3,
                    fid=True, kid=True, isc=True)
    m = ours["metrics"]
    assert m["fid"] == pytest.approx(theirs["frechet_inception_distance"], rel=1e-6)
    assert m["kid"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-6, abs=1e-9)
    assert m["isc"] == pytest.approx(theirs["inception_score_mean"], rel=1e-6)
    assert ext["name"] == "zoo-digits-classifier"


def test_generator_route_equals_direct_call_on_the_same_samples(eval_env):
    """A model streamed as torch-fidelity's GenerativeModelBase scores like its samples as a data set."""
    from zoo_core.datasets import load_dataset
    from zoo_core.evaluation.fidelity import ZooGenerator, draw

    model = untrained_dcgan()
    ours = evaluate(model, metrics="fid,isc", num_samples=40, seed=7, reference="digits")
    gen = ZooGenerator(model, keep=True)
    draw(gen, 40, seed=7, batch_size=13)  # another batch size: the same samples
    theirs = direct(gen.samples01(), load_dataset("digits", "train"), ours["protocol"]["feature_extractor"], 7,
                    fid=True, isc=True)
    assert ours["metrics"]["fid"] == pytest.approx(theirs["frechet_inception_distance"], rel=1e-6)
    assert ours["metrics"]["isc"] == pytest.approx(theirs["inception_score_mean"], rel=1e-6)


def test_fid_orders_real_data_trained_and_untrained(eval_env):
    n = 200
    real = evaluate(RealData("digits", "test"), metrics=["fid"], num_samples=n, reference="digits")["metrics"]["fid"]
    untrained = evaluate(untrained_dcgan(), metrics=["fid"], num_samples=n, reference="digits")["metrics"]["fid"]
    assert real * 10 < untrained, (real, untrained)
    if not catalog_has("dcgan.digits"):
        pytest.skip("dcgan.digits is not in the catalog yet")
    trained = evaluate("dcgan.digits", metrics=["fid"], num_samples=n)["metrics"]["fid"]
    assert real < trained < untrained, (real, trained, untrained)


def test_protocol_is_recorded(eval_env):
    from zoo_core.catalog import get_catalog

    report = evaluate(RealData("digits", "test"), metrics=["prc", "memorization"], num_samples=60, seed=1,
                      reference="digits:train")
    p, m = report["protocol"], report["metrics"]
    assert (p["num_samples"], p["seed"]) == (60, 1)
    assert p["reference"]["dataset"] == "digits" and p["reference"]["split"] == "train"
    assert len(p["reference"]["sha256"]) == 64
    spec = get_catalog().resolve("digits-classifier")
    assert p["feature_extractor"]["weights_sha256"] == spec.files["model.safetensors"].sha256
    assert p["images"]["sample_shape"] == [1, 32, 32] and p["images"]["resize"] == "none"
    assert {"torch", "torch_fidelity", "zoo"} <= set(p["versions"])
    assert p["device"].startswith("cpu") and p["wall_time_s"] > 0
    assert {"prc_precision", "prc_recall", "prc_density", "prc_coverage"} <= set(m)
    assert 0 <= m["prc_coverage"] <= 1


def test_density_coverage_and_memorization_behave():
    from zoo_core.evaluation.density_coverage import density_coverage
    from zoo_core.evaluation.memorization import memorization

    g = torch.Generator().manual_seed(0)
    real, same, far = (torch.randn(800, 8, generator=g), torch.randn(800, 8, generator=g),
                       torch.randn(800, 8, generator=g) + 10)
    dc = density_coverage(real, same)
    assert 0.8 < dc["density"] < 1.2 and dc["coverage"] > 0.9
    assert density_coverage(real, far) == {"density": 0.0, "coverage": 0.0}

    train, test = torch.rand(300, 1, 8, 8, generator=g), torch.rand(100, 1, 8, 8, generator=g)
    copies = memorization(train[:50], train, test)
    assert copies["memorization_near_copy_fraction"] == 1.0
    fresh = memorization(torch.rand(200, 1, 8, 8, generator=g), train, test)
    assert fresh["memorization_near_copy_fraction"] < 0.1
    assert 0.8 < fresh["memorization_nn_distance_ratio"] < 1.2


class Uniform(GenerativeModel):
    """Independent uniform pixels over the value range: log p is known exactly."""

    family = "uniform"
    value_range = (-1.0, 1.0)

    def __init__(self, size: int = 4) -> None:
        super().__init__()
        self.size = size
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def log_prob(self, x):
        return torch.full((len(x),), -x[0].numel() * math.log(2.0))


def test_bits_per_dim_uses_the_change_of_variables_and_labels_bounds():
    from zoo_core.evaluation.likelihood import bits_per_dim

    data = torch.rand(10, 1, 4, 4)
    out = bits_per_dim(Uniform(), data)
    assert out["nll_bits_per_dim"] == pytest.approx(0.0, abs=1e-6)  # uniform on [0, 1] after rescaling
    bound = Uniform()
    bound.log_prob_is_bound = True
    assert "nll_bound_bits_per_dim" in bits_per_dim(bound, data)


class Brightness(Evaluator):
    name = "brightness"
    min_samples = 1

    def evaluate(self, model, context):
        return {"brightness": float(context.samples01().mean())}


class BrightnessPlugin:
    @hookimpl
    def zoo_evaluators(self):
        return [EvaluatorInfo(name="brightness", evaluator_class="tests.test_eval:Brightness")]


def test_a_plugin_adds_an_evaluator(eval_env):
    from zoo_core.plugins import get_plugin_manager, reset_plugin_manager

    pm = get_plugin_manager()
    pm.register(BrightnessPlugin(), "brightness-plugin")
    reset_plugin_manager(pm)
    out = evaluate(RealData("digits", "test"), metrics=["brightness"], num_samples=20, reference="digits")
    from zoo_core.datasets import load_dataset

    assert out["metrics"]["brightness"] == pytest.approx(float(load_dataset("digits", "test")[:20].mean()))
