"""The built-in evaluators, registered through the `zoo_evaluators` hook (zoo_core/builtins.py).

A plugin adds a metric the same way: subclass `zoo_core.evaluator.Evaluator`, return an
`EvaluatorInfo` from its `zoo_evaluators` hook, and use the `EvalContext` it is handed
(``context.samples01()``, ``context.data(split)``, ``context.sample_features()``, ...).
An evaluator that needs torch-fidelity metrics lists them in ``fidelity_flags``: the run
computes all of them in one call. ``needs_samples`` (default True) keeps the drawn samples in
memory for ``context.samples01()``.
"""
from __future__ import annotations

from typing import Any, ClassVar

from ..evaluator import Evaluator


def _not_images(model: Any) -> str | None:
    if getattr(model, "kind", None) != "image":
        return f"it scores images and this model makes {getattr(model, 'kind', 'no')} samples"
    return None


class FidelityEvaluator(Evaluator):
    """A metric computed by torch-fidelity on the run's samples against the reference split."""

    fidelity_flags: ClassVar[tuple[str, ...]] = ()
    keys: ClassVar[tuple[str, ...]] = ()
    needs_samples: ClassVar[bool] = False  # torch-fidelity streams them; nothing is kept

    def applies_to(self, model: Any) -> str | None:
        return _not_images(model)

    def evaluate(self, model: Any, context: Any) -> dict[str, float]:
        results = context.fidelity()
        return {k: results[k] for k in self.keys if k in results}


class FID(FidelityEvaluator):
    name = "fid"
    description = "Fréchet distance between feature Gaussians (Heusel et al., 2017); lower is better"
    min_samples = 2
    fidelity_flags = ("fid",)
    keys = ("fid",)

    def evaluate(self, model: Any, context: Any) -> dict[str, float]:
        dim = context.extractor().info.get("feature_dim")
        n = context.settings.num_samples
        if dim and n <= dim:
            context.warnings.append(f"fid: {n} samples for {dim}-d features leaves the sample covariance "
                                    f"singular; compare FIDs only at equal sample counts")
        return super().evaluate(model, context)


class KID(FidelityEvaluator):
    name = "kid"
    description = "Kernel distance, unbiased MMD^2 with a cubic kernel (Bińkowski et al., 2018); lower is better"
    min_samples = 2
    fidelity_flags = ("kid",)
    keys = ("kid", "kid_std")


class ISC(FidelityEvaluator):
    name = "isc"
    description = "Inception Score, exp E[KL(p(y|x) || p(y))] over 10 splits (Salimans et al., 2016); higher is better"
    min_samples = 20  # 10 splits of at least 2 samples
    fidelity_flags = ("isc",)
    keys = ("isc", "isc_std")


class PRC(FidelityEvaluator):
    """torch-fidelity's precision/recall, with density and coverage computed on the same features."""

    name = "prc"
    description = ("precision/recall (Kynkäänniemi et al., 2019, k=3) and density/coverage "
                   "(Naeem et al., 2020, k=5); higher is better")
    min_samples = 6
    needs_samples = True  # density/coverage reuse the very samples torch-fidelity scored
    fidelity_flags = ("prc",)
    keys = ("prc_precision", "prc_recall", "prc_f_score")

    def evaluate(self, model: Any, context: Any) -> dict[str, float]:
        from .density_coverage import density_coverage

        out = super().evaluate(model, context)
        dc = density_coverage(context.reference_features(), context.sample_features(), k=context.settings.dc_k)
        out.update({f"prc_{k}": v for k, v in dc.items()})
        return out


class NLL(Evaluator):
    name = "nll"
    description = "negative log-likelihood in bits/dim on the held-out split (a bound for a VAE); lower is better"
    min_samples = 1
    needs_samples = False  # scores the test split, draws nothing

    def applies_to(self, model: Any) -> str | None:
        if not getattr(model, "has_log_prob", False):
            return (f"{getattr(model, 'family', 'this model')} has no tractable likelihood "
                    "(it is not an explicit-density model)")
        return _not_images(model)

    def evaluate(self, model: Any, context: Any) -> dict[str, float]:
        from .likelihood import bits_per_dim

        data = context.data("test")
        with context.bar(len(data), "log-likelihood") as update:
            out = bits_per_dim(model, data, progress=update)
        space = getattr(model, "likelihood_space", None) or (
            "the model's own discretisation (its bits_per_dim)" if callable(getattr(model, "bits_per_dim", None))
            else "continuous density over pixels scaled to [0, 1]")
        if getattr(model, "likelihood", None) == "bernoulli" and not getattr(model, "likelihood_space", None):
            space = ("Bernoulli likelihood of grey values in [0, 1] (cross-entropy; a discrete model's "
                     "likelihood, not a density over [0, 1])")
        context.record["nll"] = {"dataset": context.settings.dataset, "split": "test", "examples": len(data),
                                 "space": space, "bound": any(k.startswith("nll_bound") for k in out)}
        return out


class Memorization(Evaluator):
    name = "memorization"
    description = ("nearest-training-image distances of samples vs. test images; fraction of near-copies "
                   "(closer than 99% of test images); lower is better")
    min_samples = 1

    def applies_to(self, model: Any) -> str | None:
        return _not_images(model)

    def evaluate(self, model: Any, context: Any) -> dict[str, float]:
        from .memorization import QUANTILE, memorization

        out = memorization(context.samples01(), context.data("train"), context.data("test"))
        context.record["memorization"] = {"space": "pixels in [0, 1] at the model's resolution, RMS distance",
                                          "train": f"{context.settings.dataset}:train",
                                          "baseline": f"{context.settings.dataset}:test",
                                          "near_copy": f"distance below the {QUANTILE:.0%} quantile of test->train"}
        return out


BUILTIN = (FID, KID, ISC, PRC, NLL, Memorization)
