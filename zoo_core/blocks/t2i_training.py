"""What the text-to-image trainers share: the published encoders they train against and score
with, caption features for a whole split, and the per-attribute accuracy they monitor.

The encoders are catalog models ("damsm.shapes", "shapes-classifier.small"), loaded like any
zoo model (pulled and sha256-checked, the bundled mirror when offline); a path or an already
built model may be passed instead.
"""
from __future__ import annotations

from typing import Any

import torch

DAMSM = "damsm.shapes"
CLASSIFIER = "shapes-classifier.small"


def _frozen(model: Any) -> Any:
    model.eval().requires_grad_(False)
    return model


def load_damsm(damsm: Any = None) -> Any:
    """The DAMSM encoders (a catalog name or folder; default: damsm.shapes), frozen."""
    from ..loading import load

    if damsm is None or isinstance(damsm, str) or hasattr(damsm, "__fspath__"):
        damsm = load(str(damsm or DAMSM), pull=True, progress=False)
    return _frozen(damsm)


def load_shapes_classifier(classifier: Any = None) -> Any:
    """The shapes attribute classifier (default: shapes-classifier.small), frozen."""
    from ..loading import load

    if classifier is None or isinstance(classifier, str) or hasattr(classifier, "__fspath__"):
        classifier = load(str(classifier or CLASSIFIER), pull=True, progress=False)
    return _frozen(classifier)


def resolve_damsm(damsm: Any, cfg: dict[str, Any], shapes_encoder: dict[str, Any]) -> Any:
    """The DAMSM a sentence-conditioned trainer copies its text encoder from: "auto" means the
    published one when the config's encoder has its size (``shapes_encoder``), else none. Sets
    the config's vocabulary from it, so config.json carries the word list."""
    if damsm == "auto":
        damsm = load_damsm() if cfg.get("text_encoder") == shapes_encoder else None
    if damsm is not None and not cfg.get("vocab"):
        cfg["vocab"] = damsm.vocab.to_list()
    return damsm


def attach_text_and_data(model: Any, damsm: Any, classifier: Any, data: Any,
                         size: int | None = None) -> tuple[Any, torch.Tensor, list[list[str]]]:
    """(classifier, images in [0, 1], captions) for a trainer: the DAMSM text encoder copied in
    (frozen), the classifier resolved ("auto": the published one unless ``data`` is given) and
    the shapes train split at ``size`` loaded when no ``data`` is given."""
    if damsm is not None:
        model.use_text_encoder(damsm)
    if model.text_encoder is None:
        raise ValueError("training needs a text encoder (this config reads embeddings only)")
    if classifier == "auto":
        classifier = load_shapes_classifier() if data is None else None
    if data is None:
        from ..data.shapes import load_shapes

        data = load_shapes("train", with_captions=True, **({"size": size} if size else {}))
    images01, captions = data
    return classifier, images01, captions


@torch.no_grad()
def encode_captions(model: Any, captions: list[list[str]], batch: int = 1000) -> torch.Tensor:
    """Sentence features (N, k, text_dim) of N images' k captions, by the model's frozen encoder."""
    k = len(captions[0])
    flat = [c for caps in captions for c in caps]
    feats = [model.encode_prompts(flat[i:i + batch]).sentence.cpu() for i in range(0, len(flat), batch)]
    return torch.cat(feats).view(len(captions), k, -1)


@torch.no_grad()
def sentence_text_scale(damsm: Any, captions: list[list[str]], images: int = 400) -> float:
    """1 / RMS of the encoder's sentence features over the first ``images`` images' captions.

    DAMSM sentence features are small (RMS ~0.1); fed to CA_NET as they are, the text is drowned
    by the CA noise and the generator learns to ignore it. Models take this as ``text_scale``.
    """
    flat = [c for caps in captions[:images] for c in caps]
    ids, lengths = damsm.tokenize(flat)
    rms = float(damsm.encode_ids(ids, lengths)[1].pow(2).mean().sqrt())
    return round(1.0 / max(rms, 1e-6), 4)


def attribute_accuracy(result: dict[str, float]) -> float:
    """The mean of the per-attribute accuracies (softer than the all-attributes caption accuracy)."""
    parts = [v for k, v in result.items() if k.startswith("caption_accuracy_")]
    return sum(parts) / max(len(parts), 1)
