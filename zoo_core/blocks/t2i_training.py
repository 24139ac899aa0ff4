"""What the text-to-image trainers share: the published encoders they train against and score
with, caption features for a whole split, and the per-attribute accuracy they monitor.

The encoders are catalog models ("damsm.shapes", "shapes-classifier.small"), loaded like any
zoo model (pulled and sha256-checked, the bundled mirror when offline); a path or an already
built model may be passed instead.
"""
from __future__ import annotations

import copy
import time
from typing import Any, Callable, Sequence

import torch
from torch import nn

from ..errors import BadInputError

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


def damsm_name(damsm: Any = None) -> str:
    """What a report calls the DAMSM encoders given to load_damsm (or resolve_damsm's "auto")."""
    if damsm is None or (isinstance(damsm, str) and damsm == "auto"):
        return f"{DAMSM} (the published DAMSM)"
    return str(damsm) if isinstance(damsm, str) or hasattr(damsm, "__fspath__") else "the DAMSM encoders given"


def text_embedding_note(asked: Any, resolved: Any) -> str:
    """The report's text-embedding line of a sentence-conditioned trainer: the DAMSM asked for
    (``damsm_name``) when ``resolve_damsm`` loaded one, else the config's own frozen encoder."""
    if resolved is None:
        return "frozen sentence feature of the config's own bi-LSTM (no DAMSM of its size), not char-CNN-RNN"
    return f"frozen DAMSM sentence feature ({damsm_name(asked)} bi-LSTM), not char-CNN-RNN"


def load_shapes_classifier(classifier: Any = None) -> Any:
    """The shapes attribute classifier (default: shapes-classifier.small), frozen."""
    from ..loading import load

    if classifier is None or isinstance(classifier, str) or hasattr(classifier, "__fspath__"):
        classifier = load(str(classifier or CLASSIFIER), pull=True, progress=False)
    return _frozen(classifier)


def resolve_damsm(damsm: Any, cfg: dict[str, Any], shapes_encoder: dict[str, Any]) -> Any:
    """The DAMSM a sentence-conditioned trainer copies its text encoder from: "auto" means the
    published one when the config's encoder has its size (``shapes_encoder``), else none; a name
    or folder is loaded. Sets
    the config's vocabulary from it, so config.json carries the word list."""
    if damsm == "auto":
        damsm = load_damsm() if cfg.get("text_encoder") == shapes_encoder else None
    elif isinstance(damsm, str) or hasattr(damsm, "__fspath__"):  # a catalog name or a run folder
        damsm = load_damsm(damsm)
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
        raise BadInputError("training needs a text encoder (this config reads embeddings only)")
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


def same_text_encoder(model: Any, damsm: Any) -> bool:
    """Whether a text-to-image model carries exactly the DAMSM's text encoder weights."""
    mine, theirs = model.text_encoder.state_dict(), damsm.text_encoder.state_dict()
    return mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)


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


def attribute_accuracy(result: dict[str, float], prefix: str = "") -> float:
    """The mean of the per-attribute accuracies (softer than the all-attributes caption accuracy);
    ``prefix`` picks another set of them (``attn_shapes.SOFTENED``: of the images softened)."""
    parts = [v for k, v in result.items() if k.startswith(prefix + "caption_accuracy_")]
    return sum(parts) / max(len(parts), 1)


class EpochRun:
    """The bookkeeping of the epoch-based trainers (GAN-INT-CLS, StackGAN's stages): steps, the
    per-epoch means of the logged losses, the step / time limits, and snapshot selection by the
    attribute accuracy of a check (``check``) run every ``eval_every_s`` seconds."""

    def __init__(self, keys: Sequence[str], *, max_steps: int | None, max_seconds: float | None,
                 eval_every_s: float, check: Callable[[], None] | None = None,
                 log: Callable[[str], None] | None = None, label: str = "") -> None:
        self.keys, self.max_steps, self.max_seconds = list(keys), max_steps, max_seconds
        self.eval_every_s, self.check, self.log, self.label = eval_every_s, check, log, label
        self.step = 0
        self.start = self.last_eval = time.perf_counter()
        self.history: list[dict[str, float]] = []
        self.evals: list[dict[str, float]] = []
        self.best: tuple[float, dict[str, torch.Tensor]] | None = None
        self.begin_epoch()

    def begin_epoch(self) -> None:
        self.sums = dict.fromkeys(self.keys, 0.0)
        self.count = 0

    def record(self, values: dict[str, float]) -> bool:
        """Add one step's values, run the check when it is due; True once a limit is reached."""
        for k, v in values.items():
            self.sums[k] += v
        self.count += 1
        self.step += 1
        now = time.perf_counter()
        if self.check is not None and now - self.last_eval >= self.eval_every_s:
            self.check()
            self.last_eval = time.perf_counter()
        return bool((self.max_steps is not None and self.step >= self.max_steps)
                    or (self.max_seconds and now - self.start >= self.max_seconds))

    def end_epoch(self, epoch: int) -> dict[str, float]:
        """The epoch's history row: mean of every key, steps so far, seconds."""
        row = {"epoch": epoch + 1, "steps": self.step,
               **{k: round(v / max(self.count, 1), 4) for k, v in self.sums.items()},
               "seconds": round(self.seconds(), 1)}
        self.history.append(row)
        self.begin_epoch()
        return row

    def seconds(self) -> float:
        return time.perf_counter() - self.start

    def offer(self, model: nn.Module, result: dict[str, float]) -> None:
        """Record a check's caption accuracies; keep the model's weights if they score best so far."""
        score = attribute_accuracy(result)
        self.evals.append({"step": self.step, "seconds": round(self.seconds(), 1),
                           "train_caption_accuracy": round(result["caption_accuracy"], 4),
                           "train_attribute_accuracy": round(score, 4)})
        if self.log:
            self.log(f"  {self.label}step {self.step}: 300 train captions: caption accuracy "
                     f"{result['caption_accuracy']:.3f}, mean attribute accuracy {score:.3f}")
        if self.best is None or score >= self.best[0]:
            self.best = (score, copy.deepcopy(model.state_dict()))

    def final(self, keys: Sequence[str]) -> dict[str, float]:
        """The last epoch's means of ``keys`` (the report's "final")."""
        last = self.history[-1] if self.history else {}
        return {k: last[k] for k in keys if k in last}
