"""The core's own plugin: data sets every family can use, the evaluators of `zoo eval` and the
family of the zoo's feature extractors. Registered like any plugin."""
from __future__ import annotations

from .datasets import DatasetInfo
from .evaluator import EvaluatorInfo
from .family import Family
from .hookspecs import hookimpl


@hookimpl
def zoo_datasets() -> list[DatasetInfo]:
    return [
        DatasetInfo(
            name="digits",
            loader="zoo_core.data.digits:load_digits",
            description="scikit-learn's 1,797 handwritten digits, 8x8 upsampled; 1,438 train / 359 test",
            license="CC BY 4.0 (UCI ML hand-written digits)",
        ),
        DatasetInfo(
            name="shapes",
            loader="zoo_core.data.shapes:load_shapes",
            description=("procedural text-to-image scenes (v1.0): one or two coloured shapes on a background, "
                         "64x64 RGB, 5 captions each, attribute labels; 8,000 train / 1,000 test"),
            license="MIT (generated from a seed by zoo_core.data.shapes)",
        ),
    ]


@hookimpl
def zoo_families() -> list[Family]:
    return [
        Family(
            name="feature-extractor",
            model_class="zoo_core.evaluation.classifier:DomainClassifier",
            tasks=("feature-extraction",),
            description="a small classifier trained on a zoo data set; its features score samples offline",
            trainer="zoo_core.evaluation.classifier:train",
        ),
        Family(
            name="shapes-classifier",
            model_class="zoo_core.blocks.attribute_classifier:ShapesAttributeClassifier",
            tasks=("feature-extraction",),
            description="the shapes attribute classifier: caption accuracy and FID features of text-to-image models",
        ),
        Family(
            name="damsm",
            model_class="zoo_core.blocks.damsm_model:DAMSMEncoders",
            tasks=("text-image-matching",),
            description="DAMSM text and image encoders (AttnGAN): R-precision, and the text encoder of the "
                        "text-to-image families",
            paper="https://arxiv.org/abs/1711.10485",
        ),
    ]


@hookimpl
def zoo_evaluators() -> list[EvaluatorInfo]:
    path = "zoo_core.evaluation.evaluators"
    return [EvaluatorInfo(name=n, evaluator_class=f"{path}:{c}", description=d) for n, c, d in (
        ("fid", "FID", "Fréchet distance of features (torch-fidelity)"),
        ("kid", "KID", "kernel distance of features (torch-fidelity)"),
        ("isc", "ISC", "Inception Score with the domain classifier (torch-fidelity)"),
        ("prc", "PRC", "precision/recall (torch-fidelity) with density/coverage"),
        ("nll", "NLL", "bits/dim on the held-out split, explicit-density models only"),
        ("memorization", "Memorization", "near-copies of training images vs. the test baseline"),
    )] + [EvaluatorInfo(name=n, evaluator_class=f"zoo_core.evaluation.text_image:{c}", description=d) for n, c, d in (
        ("r_precision", "RPrecision", "DAMSM R-precision of text-to-image samples, 1 true caption among 100"),
        ("caption_accuracy", "CaptionAccuracy", "attribute classifier agrees with every attribute the prompt states"),
    )]
