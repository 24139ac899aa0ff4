"""The closed-form maximum-likelihood fit of probabilistic PCA (Tipping & Bishop, 1999).

With the sample covariance S = (1/N) sum (x - mu)(x - mu)^T and its eigenvalues
l_1 >= ... >= l_D (eigenvectors U), the likelihood is maximised by

    mu      = the sample mean
    sigma^2 = (1 / (D - q)) * sum_{j > q} l_j          (the mean discarded variance)
    W       = U_q (L_q - sigma^2 I)^{1/2}               (up to a rotation, taken as I)

No iterations, no random numbers: the same data always gives the same weights.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import torch

from .model import PPCA

DEFAULT_CONFIG: dict[str, Any] = {"image_size": 32, "channels": 1, "latent_dim": 16}


def fit_ppca(data: torch.Tensor, latent_dim: int, *, min_variance: float = 1e-8) -> PPCA:
    """Fit PPCA to ``data`` of shape (N, C, H, W) (square images) and return the model.

    ``min_variance`` floors sigma^2 so the density stays proper when the data happen to lie in
    a q-dimensional subspace.
    """
    if data.dim() != 4 or data.shape[2] != data.shape[3]:
        raise ValueError(f"data must be (N, C, S, S) images, got shape {tuple(data.shape)}")
    n, c, s, _ = data.shape
    model = PPCA(image_size=s, channels=c, latent_dim=latent_dim)
    d, q = model.data_dim, latent_dim
    if n < 2:
        raise ValueError("need at least two examples to fit a covariance")

    x = data.reshape(n, d).double()
    mu = x.mean(0)
    xc = x - mu
    cov = xc.T @ xc / n  # the ML estimate divides by N
    evals, evecs = torch.linalg.eigh(cov)  # ascending
    evals, evecs = evals.flip(0), evecs.flip(1)
    top, U = evals[:q], evecs[:, :q]
    # the trace is exact where the tail eigenvalues are tiny and a little noisy
    sigma2 = max(float((torch.trace(cov) - top.sum()) / (d - q)), min_variance)
    # eigenvectors have no sign: fix one (largest-magnitude entry positive) so fits are reproducible
    signs = torch.sign(U.gather(0, U.abs().argmax(0, keepdim=True)))
    U = U * signs
    W = U * (top - sigma2).clamp_min(0).sqrt()

    with torch.no_grad():
        model.W.copy_(W.float())
        model.mu.copy_(mu.float())
        model.log_sigma2.fill_(float(torch.log(torch.tensor(sigma2, dtype=torch.float64))))
    model.explained_variance = float(top.sum() / torch.trace(cov))  # for the report only
    return model.requires_grad_(False).eval()


def train(config: str | dict[str, Any] | None = None, *, data: torch.Tensor | None = None,
          test_data: torch.Tensor | None = None, log: Callable[[str], None] | None = print,
          **_: Any) -> tuple[PPCA, dict[str, Any]]:
    """Fit on ``data`` (default: zoo's digits train split); return (model, JSON-able report).

    The zoo's trainer convention: ``family.trainer`` names a callable like this one.
    """
    cfg = {**DEFAULT_CONFIG, **(config if isinstance(config, dict) else {})}
    if data is None or test_data is None:
        from zoo_core.datasets import load_dataset

        data = load_dataset("digits", "train", size=cfg["image_size"]) if data is None else data
        test_data = load_dataset("digits", "test", size=cfg["image_size"]) if test_data is None else test_data
    start = time.perf_counter()
    model = fit_ppca(data, cfg["latent_dim"])
    seconds = time.perf_counter() - start
    with torch.no_grad():
        train_lp = float(model.log_prob(data).double().mean())
        test_lp = float(model.log_prob(test_data).double().mean())
    report = {
        "recipe": "closed-form maximum likelihood (Tipping & Bishop 1999)",
        "config": cfg,
        "n_train": int(len(data)),
        "n_test": int(len(test_data)),
        "sigma2": float(model.sigma2.detach()),
        "explained_variance": round(model.explained_variance, 6),
        "train_log_prob_nats": round(train_lp, 3),
        "test_log_prob_nats": round(test_lp, 3),
        "fit_seconds": round(seconds, 2),
    }
    if log:
        log(f"fitted PPCA q={cfg['latent_dim']} on {len(data)} images in {seconds:.2f}s: "
            f"sigma^2 {report['sigma2']:.3g}, explained variance {report['explained_variance']:.3f}, "
            f"test log p {report['test_log_prob_nats']:.1f} nats/image")
    return model, report
