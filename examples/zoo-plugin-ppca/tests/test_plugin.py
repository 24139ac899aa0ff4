"""Tests a plugin author can copy: hooks, catalog entry, published weights, sampling contract.

Run from this folder with `pytest` (no install needed: pyproject puts the source on sys.path).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parents[1]
REPO = HERE / "hub" / "zoo-examples" / "ppca-digits"


def entry() -> dict:
    return json.loads((HERE / "zoo_plugin_ppca" / "models.json").read_text())["ppca.digits"]


def test_hooks_are_valid_and_do_not_import_torch():
    code = """
import sys, zoo_plugin_ppca as p
from zoo_core.spec import ModelSpec
fams = p.zoo_families()
specs = [ModelSpec.from_dict(k, v, source="ppca") for k, v in p.zoo_models().items()]
assert [f.name for f in fams] == ["ppca"], fams
assert [s.name for s in specs] == ["ppca.digits"] and specs[0].family == "ppca"
assert "torch" not in sys.modules, "the hooks must stay cheap"
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=HERE, capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_the_catalog_sees_the_plugin(tmp_path):
    """Register the module by hand, as the entry point would, and build a catalog from it."""
    import zoo_plugin_ppca
    from zoo_core.catalog import build_catalog
    from zoo_core.plugins import PluginManager

    pm = PluginManager(entry_points=False)
    pm.register(zoo_plugin_ppca, "ppca", distribution="zoo-plugin-ppca", version="0.1.0")
    cat = build_catalog(pm, registry=tmp_path / "no-registry.yaml")
    assert cat.resolve("ppca").name == "ppca.digits"
    assert cat.family("ppca").load_class().__name__ == "PPCA"
    assert all(not r.errors for r in cat.plugins), [r.errors for r in cat.plugins]


def test_entry_pins_the_published_repo():
    """models.json must match hub/ byte for byte: rerun publish.py after changing the weights."""
    from zoo_core.hub.publish import repo_entry

    published = repo_entry(REPO)
    assert entry()["revision"] == published["revision"]
    assert entry()["files"] == published["files"]
    assert published["files"]["model.safetensors"]["size"] < 1_000_000


def test_published_weights_load_sample_and_score():
    from zoo_core.data.digits import load_digits
    from zoo_plugin_ppca.model import PPCA

    model = PPCA.from_pretrained(str(REPO))
    assert model.config == {"image_size": 32, "channels": 1, "latent_dim": 16}
    samples = model.sample(20, generator=0)
    assert samples.data.shape == (20, 1, 32, 32) and samples.kind == "image"
    assert torch.equal(model.sample(3, generator=0).data, samples.data[:3])  # sample i: (seed, i) only
    with torch.no_grad():
        lp = model.log_prob(load_digits("test", size=32)).double().mean()
    assert float(lp) == pytest.approx(entry()["metrics"]["test_log_prob_nats"], abs=0.01)
