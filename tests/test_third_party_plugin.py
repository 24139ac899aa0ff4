"""A third-party plugin, end to end: examples/zoo-plugin-ppca installed with `zoo install`.

The slow test pip-installs the example into this environment (from a copy in a temporary
folder, so no build/ or egg-info lands in the repo), drives the `zoo` CLI in subprocesses
(plugins, list, pull from an HF-protocol server over the example's hub/ folder, sample) and
uninstalls it with `zoo uninstall`, even when a step fails. The fast test checks PPCA's
closed-form fit and exact log-density against torch.distributions on a tiny problem.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "zoo-plugin-ppca"
DIST = "zoo-plugin-ppca"
# pip without network: no index, and no isolated build env (that would fetch setuptools).
OFFLINE_PIP = {"PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0"}


def zoo(*args: str, env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the zoo CLI of this interpreter's environment, as a user would."""
    return subprocess.run([sys.executable, "-m", "zoo_core", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"{proc.args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


def pip_has(dist: str) -> bool:
    return subprocess.run([sys.executable, "-m", "pip", "show", "-q", dist],
                          capture_output=True).returncode == 0


def our_plugin(env: dict[str, str], cwd: Path) -> list[dict]:
    records = json.loads(ok(zoo("plugins", "--json", env=env, cwd=cwd)).stdout)
    return [r for r in records if r["distribution"] == DIST]


class Installed:
    """The example installed with `zoo install`; `uninstall()` is idempotent."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd, self.removed = env, cwd, False

    def uninstall(self) -> subprocess.CompletedProcess:
        proc = zoo("uninstall", "-y", DIST, env=self.env, cwd=self.cwd)
        if pip_has(DIST):  # the CLI failed: never leave the environment changed
            subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", DIST], check=False)
        self.removed = True
        return proc


@pytest.fixture
def installed_example(tmp_path):
    src = tmp_path / "zoo-plugin-ppca"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns(
        "hub", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache"))
    env = {**os.environ, **OFFLINE_PIP}
    plugin = Installed(env, tmp_path)
    try:
        ok(zoo("install", str(src), env=env, cwd=tmp_path, timeout=300))
        yield plugin
    finally:
        if not plugin.removed:
            plugin.uninstall()


@pytest.mark.slow
def test_install_list_pull_sample_uninstall(installed_example, tmp_path):
    env = dict(installed_example.env)
    for key in ("HF_HUB_OFFLINE", "ZOO_REGISTRY", "ZOO_MIRROR"):
        env.pop(key, None)
    env["HF_HOME"] = str(tmp_path / "hf_home")
    env["HF_HUB_CACHE"] = str(tmp_path / "hf_home" / "hub")

    # the installed copy is what runs, not the source tree
    where = ok(subprocess.run([sys.executable, "-c", "import zoo_plugin_ppca as m; print(m.__file__)"],
                              env=env, cwd=tmp_path, capture_output=True, text=True)).stdout
    assert EXAMPLE.as_posix() not in Path(where.strip()).resolve().as_posix()

    [record] = our_plugin(env, tmp_path)
    assert record["name"] == "ppca" and record["version"] == "0.1.0"
    assert record["module"] == "zoo_plugin_ppca" and not record["builtin"]
    assert record["families"] == ["ppca"]
    assert record["models"] == ["ppca.digits"]
    assert record["errors"] == []

    rows = {r["name"]: r for r in json.loads(ok(zoo("list", "--json", env=env, cwd=tmp_path)).stdout)}
    assert rows["ppca.digits"]["family"] == "ppca"
    assert rows["ppca.digits"]["pulled"] is False

    from zoo_core.hub import HubServer

    server = HubServer(EXAMPLE / "hub", port=0).start()
    try:
        env["HF_ENDPOINT"] = server.url
        ok(zoo("pull", "ppca.digits", "-q", env=env, cwd=tmp_path))
        out = tmp_path / "X.png"
        ok(zoo("sample", "ppca", "-n", "4", "--seed", "0", "-o", str(out), "-q", env=env, cwd=tmp_path))
    finally:
        server.stop()
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    with Image.open(out) as im:
        assert min(im.size) >= 32  # a grid of 32x32 digits
    rows = {r["name"]: r for r in json.loads(ok(zoo("list", "--json", env=env, cwd=tmp_path)).stdout)}
    assert rows["ppca.digits"]["pulled"] is True

    ok(installed_example.uninstall())
    assert not pip_has(DIST)
    assert our_plugin(env, tmp_path) == []
    names = [r["name"] for r in json.loads(ok(zoo("list", "--json", env=env, cwd=tmp_path)).stdout)]
    assert "ppca.digits" not in names


@pytest.fixture
def ppca_source(monkeypatch):
    """The example's modules imported from the source tree (no install needed)."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    from zoo_plugin_ppca.fit import fit_ppca
    from zoo_plugin_ppca.model import PPCA

    return fit_ppca, PPCA


def test_ppca_log_prob_and_fit_match_the_gaussian(ppca_source):
    fit_ppca, PPCA = ppca_source
    from zoo_core.data.digits import load_digits

    train, test = load_digits("train", size=4), load_digits("test", size=4)  # D = 16
    q = 3
    model = fit_ppca(train, q).double()
    assert isinstance(model, PPCA) and model.has_log_prob

    # exact density: the Woodbury form equals the dense multivariate normal
    mvn = torch.distributions.MultivariateNormal(model.mu.detach(), covariance_matrix=model.covariance().detach())
    points = torch.cat([test.double(), torch.rand(8, 1, 4, 4, dtype=torch.float64,
                                                  generator=torch.Generator().manual_seed(0))])
    got, want = model.log_prob(points), mvn.log_prob(points.flatten(1))
    assert got.shape == (len(points),)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-8)
    assert model.log_prob(test).dtype == torch.float32  # float in, same dtype out

    # the closed-form fit is the maximum-likelihood one; at the optimum tr(C^-1 S) = D, so
    # mean log-lik = -1/2 (D log 2pi + sum_{j<=q} log l_j + (D - q) log sigma^2 + D)
    x = train.flatten(1).double()
    S = torch.cov(x.T, correction=0)
    evals = torch.linalg.eigvalsh(S).flip(0)
    d = x.shape[1]
    sigma2 = evals[q:].mean()
    assert float(model.sigma2) == pytest.approx(float(sigma2), rel=1e-5)
    best = -0.5 * (d * math.log(2 * math.pi) + evals[:q].log().sum() + (d - q) * sigma2.log() + d)
    assert float(model.log_prob(train).mean()) == pytest.approx(float(best), rel=1e-5, abs=1e-4)
    # ... and the model covariance keeps the top-q eigenvalues of the data
    torch.testing.assert_close(torch.linalg.eigvalsh(model.covariance().detach()).flip(0)[:q], evals[:q],
                               rtol=1e-5, atol=1e-7)


def test_ppca_sampler_contract_and_moments(ppca_source):
    fit_ppca, _ = ppca_source
    from zoo_core.data.digits import load_digits

    model = fit_ppca(load_digits("train", size=4), 3)
    a = model.sample(20, generator=5).data
    assert a.shape == (20, 1, 4, 4)
    assert torch.equal(model.sample(4, generator=5).data, a[:4])  # sample i depends on (seed, i) only
    mean_only = model.sample(4, generator=5, noise=False).data
    assert not torch.equal(mean_only, a[:4])  # same z, no sigma * eps

    many = model.sample(2000, generator=1).data.flatten(1).double()
    C = model.covariance().detach().double()
    assert (many.mean(0) - model.mu.detach().double()).abs().max() < 4 * C.diagonal().max().sqrt() / math.sqrt(2000)
    assert torch.linalg.matrix_norm(torch.cov(many.T) - C) / torch.linalg.matrix_norm(C) < 0.1
