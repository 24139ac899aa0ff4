"""Boltzmann plugin, per model: registration and configs, seeded sampling, conditioning,
training (CD/PCD against the exact likelihood, every trainer), persistence."""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from plugins.boltzmann.config import CONFIGS
from plugins.boltzmann.convrbm import ConvRBM
from plugins.boltzmann.crbm import CRBM
from plugins.boltzmann.dbm import DBM
from plugins.boltzmann.dbn import DBN
from plugins.boltzmann.gbrbm import GBRBM
from plugins.boltzmann.rbm import RBM
from plugins.boltzmann.ssrbm import SSRBM
from zoo_core.errors import BadInputError

from .boltzmann_helpers import exact_rbm, randomize

pytestmark = pytest.mark.usefixtures("one_thread")  # many tiny ops: one thread is fastest

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ["rbm", "gbrbm", "crbm", "ssrbm", "convrbm", "dbm", "dbn"]


# -- registration and configs --------------------------------------------------------------
def test_registration_names_seven_families_without_importing_torch():
    code = ("import sys, plugins.boltzmann as p; fams = p.zoo_families(); "
            "assert 'torch' not in sys.modules, 'torch imported'; print(' '.join(f.name for f in fams))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == FAMILIES


def test_paper_configs_instantiate_with_the_papers_sizes():
    rbm = RBM(**CONFIGS["rbm"]["paper"])
    assert rbm.W.shape == (784, 500)
    dbm = DBM(**CONFIGS["dbm"]["paper"])
    assert (dbm.W1.shape, dbm.W2.shape) == ((784, 500), (500, 1000))
    dbn = DBN(**CONFIGS["dbn"]["paper"])
    assert [tuple(layer.W.shape) for layer in dbn.layers] == [(784, 500), (500, 500), (500, 2000)]
    for cls in (GBRBM, CRBM, SSRBM, ConvRBM):
        assert cls(**CONFIGS[cls.family]["paper"]).num_parameters() > 0


@pytest.mark.parametrize("family", FAMILIES)
def test_small_config_weights_fit_in_a_megabyte(family, tmp_path):
    from plugins.boltzmann import model_class

    model = model_class(family)(**CONFIGS[family]["small"])
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").stat().st_size <= 1_000_000


# -- sampling ----------------------------------------------------------------------------------
def tiny_model(family: str):
    from plugins.boltzmann import model_class

    model = randomize(model_class(family)(**CONFIGS[family]["tiny"]), std=0.5)
    if hasattr(model, "constrain"):
        model.constrain()
    return model


@pytest.mark.parametrize("family", FAMILIES)
def test_sampling_is_deterministic_under_a_seed(family):
    model = tiny_model(family)
    kw = {"condition": [3, 5]} if family == "crbm" else {}
    a = model.sample(5, generator=7, steps=20, **kw)
    b = model.sample(5, generator=7, steps=20, **kw)
    first = model.sample(2, generator=7, steps=20, **kw)
    other = model.sample(5, generator=8, steps=20, **kw)
    assert torch.equal(a.data, b.data)
    assert torch.equal(a.data[:2], first.data)
    assert not torch.equal(a.data, other.data)
    assert a.data.shape == (5, *model.image_shape)
    assert 0 <= float(a.data.min()) and float(a.data.max()) <= 1


def test_gibbs_options_and_binary_draws():
    model = tiny_model("rbm")
    s = model.sample(4, generator=0, steps=3, burn_in=2, mean=False)
    assert set(s.data.unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(BadInputError):
        model.sample(2, generator=0, steps=-1)
    with pytest.raises(BadInputError):
        model.sample(2, generator=0, chains=4)
    # burn_in and steps add up: one sample per chain
    assert torch.equal(model.sample(3, generator=1, steps=5, burn_in=2).data,
                       model.sample(3, generator=1, steps=7, burn_in=0).data)


def test_crbm_labels_are_checked_and_steer_the_samples():
    m = CRBM(image_size=2, hidden=2, num_classes=4).eval()
    with torch.no_grad():  # label y lights pixel y only
        m.A.copy_(torch.eye(4) * 16 - 8)
    for bad in (4, -1, "3", True, 2.0):
        with pytest.raises(BadInputError, match="0..3"):
            m.sample(1, condition=bad, generator=0)
    with pytest.raises(BadInputError):
        m.sample(1, generator=0)
    s = m.sample(8, condition=[0, 1, 2, 3], generator=0, steps=10, mean=False).data.reshape(8, 4)
    assert torch.equal(s, torch.eye(4).repeat(2, 1))


# -- training, persistence ----------------------------------------------------------------------
@pytest.mark.parametrize("persistent", [False, True])
def test_cd_and_pcd_raise_the_exact_likelihood(persistent):
    from plugins.boltzmann.train import fit_cd

    torch.manual_seed(0)
    model = RBM(image_size=2, hidden=4, init_std=0.1)
    data = torch.tensor([[1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 1, 0]]).float().repeat(20, 1)

    def exact_ll():
        vs, log_marg, log_z = exact_rbm(model)
        return float((-model.free_energy(data) - log_z).mean())
    before = exact_ll()
    fit_cd(model, data, epochs=60, batch_size=20, lr=0.05, k=1, persistent=persistent, chains=20, lr_decay=False,
           generator=torch.Generator().manual_seed(0), log=None)
    after = exact_ll()
    assert after > before + 1.0
    assert after > -3 * math.log(2)  # most of the mass on the three patterns (uniform on them: log 1/3)


@pytest.mark.parametrize("family", ["rbm", "crbm", "gbrbm", "dbm", "dbn"])
def test_trainer_runs_and_reports_a_likelihood(family):
    from plugins.boltzmann import _FAMILIES, zoo_families  # noqa: F401
    from zoo_core.lazy import import_object

    trainer = import_object(next(f.trainer for f in zoo_families() if f.name == family))
    model, report = trainer("tiny", max_steps=3, log=None)
    assert not torch.isnan(model.log_z).any()
    keys = report["metrics"]
    assert any(k.startswith("test_nll_") for k in keys)
    logp = model.log_prob(torch.rand(3, *model.image_shape))
    assert logp.shape == (3,) and torch.isfinite(logp).all()


def test_save_and_load_keep_log_z_and_samples(tmp_path):
    model = tiny_model("rbm")
    model.estimate_log_z(num_chains=10, num_betas=50, generator=0)
    model.save_pretrained(tmp_path)
    loaded = RBM.from_pretrained(str(tmp_path))
    assert torch.equal(loaded.log_z, model.log_z) and int(loaded.log_z_chains) == 10
    assert torch.equal(loaded.sample(3, generator=0, steps=5).data, model.sample(3, generator=0, steps=5).data)
    x = torch.rand(2, *model.image_shape)
    assert torch.allclose(loaded.log_prob(x), model.log_prob(x))


def test_log_prob_without_an_ais_estimate_is_a_clear_error():
    from zoo_core.errors import ZooError

    with pytest.raises(ZooError, match="estimate_log_z"):
        tiny_model("rbm").log_prob(torch.rand(1, 1, 4, 4))
