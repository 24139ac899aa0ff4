"""The shapes training data and caption-accuracy checks of the attentional text-to-image
trainers (AttnGAN, MirrorGAN): ``ShapesBatches`` (real images at every stage's size, tokenised
captions and, for hard negatives, each scene's shape-twin captions), ``shapes_data`` and the
evaluators run during and after training."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F

from ..errors import BadInputError
from .soften import soften
from .t2i_training import load_shapes_classifier


TWIN_KINDS = ("shape", "colour", "swap")


def twin_kinds(asked: str | Sequence[str] | None) -> tuple[str, ...]:
    """The kinds of twin captions asked for ("shape", "colour", "swap"; a comma-separated string
    or a sequence; default shape), checked."""
    kinds = tuple(k.strip() for k in (asked.split(",") if isinstance(asked, str) else asked or ("shape",)))
    if not kinds or len(set(kinds)) != len(kinds) or any(k not in TWIN_KINDS for k in kinds):
        raise BadInputError(f"twin_kinds takes distinct kinds among {', '.join(TWIN_KINDS)}, not {asked!r}")
    return kinds


def train_twin_captions(n: int, kinds: str | Sequence[str] | None = ("shape",)) -> list[list[str]]:
    """The twin captions of the first ``n`` train scenes (zoo_core.data.shapes.shape_twins: the
    same scene with one thing changed): caption slot j comes from the twin of kind
    ``kinds[j % len(kinds)]``, so every kind asked for serves as a hard negative."""
    from zoo_core.data.shapes import shape_twins

    of_kind = [shape_twins("train", n, change=k).captions for k in twin_kinds(kinds)]
    return [[of_kind[j % len(of_kind)][i][j] for j in range(len(of_kind[0][i]))] for i in range(n)]


def split_twin_captions(data: Any, twins: bool) -> tuple[Any, list[list[str]] | None]:
    """A trainer's ``data`` = (images, captions[, twin captions]) -> ((images, captions), twin
    captions or None); None data stays None (the trainer draws the train split's twins)."""
    if data is None or not twins:
        return data, None
    if len(data) < 3:
        raise BadInputError("twin negatives need data = (images, captions, twin captions)")
    return (data[0], data[1]), data[2]


def shapes_data(model: Any, data: Any = None, n: int | None = None, twins: bool = False,
                kinds: Sequence[str] = ("shape",)) -> ShapesBatches:
    """Training pairs: the shapes train split (or ``data`` = (x01, captions[, labels[, twin captions]])).

    ``twins`` adds each scene's twin captions (zoo_core.data.shapes.shape_twins: the same scene
    with one shape changed, or as ``kinds`` say: caption slot j comes from the twin of kind
    ``kinds[j % len(kinds)]``), the hard negatives of ``twin_negatives``."""
    from zoo_core.data.shapes import load_shapes

    twin_captions = None
    if data is None:
        x01, captions, labels = load_shapes("train", with_captions=True, with_attributes=True, n=n)
        if twins:
            twin_captions = train_twin_captions(len(captions), kinds)
    else:
        x01, captions, *rest = data
        labels = rest[0] if rest else None
        if twins:
            if len(rest) < 2:
                raise BadInputError("twin negatives need data = (x01, captions, labels, twin captions)")
            twin_captions = rest[1]
    class_ids = scene_class_ids(labels) if labels is not None else None
    return ShapesBatches(x01, captions, model.vocab, model.max_words, model.sizes, class_ids, twin_captions,
                         labels=labels)


SOFTENED = "softened_"  # the prefix of a check's scores of its images softened


def caption_accuracy_evaluator(n: int = 500, seed: int = 0, classifier: Any = None,
                               split: str = "test", softened: bool = False) -> Callable[[Any], dict[str, float]]:
    """A callable scoring a generator on the first caption of n images of ``split`` with the
    shapes attribute classifier (fixed noise, so scores are comparable between calls). Its
    ``prompts`` attribute says which. Snapshot selection uses the train split's captions, so
    that the test captions stay unseen by every choice made in training. ``softened`` adds the
    scores of the same images softened (``blocks.soften``), keyed with the prefix ``SOFTENED``."""
    from zoo_core.data.shapes import generate

    clf = load_shapes_classifier(classifier)
    prompts = [caps[0] for caps in generate(split, n).captions]

    @torch.no_grad()
    def evaluate(model: Any) -> dict[str, float]:
        gen = torch.Generator().manual_seed(seed)
        images = []
        for i in range(0, n, 100):
            chunk = prompts[i:i + 100]
            text = model.encode_prompts(chunk)
            z = torch.randn(len(chunk), model.z_dim, generator=gen)
            eps = torch.randn(len(chunk), model.c_dim, generator=gen)
            images.append(model.generate(z, text, eps=eps).images[-1].cpu())
        x01 = ((torch.cat(images) + 1) / 2).clamp(0, 1)
        if x01.shape[-1] != 64:
            x01 = torch.nn.functional.interpolate(x01, size=(64, 64), mode="bilinear", align_corners=False,
                                                  antialias=x01.shape[-1] > 64)
        acc = clf.caption_accuracy(x01, prompts)
        if softened:
            soft = clf.caption_accuracy(soften(x01).clamp(0, 1), prompts)
            acc = {**acc, **{SOFTENED + k: v for k, v in soft.items()}}
        return {k: round(v, 4) for k, v in acc.items()}

    evaluate.prompts = f"first caption of the first {n} {split} images, seed {seed}"  # type: ignore[attr-defined]
    return evaluate


def stage_reals(x01: torch.Tensor, sizes: Sequence[int]) -> dict[int, torch.Tensor]:
    """The real images each stage's discriminator sees: ``x01`` (N, 3, H, W) in [0, 1] resized
    (bilinear, antialiased when shrinking) to every size in ``sizes``, in [-1, 1]."""
    reals = {}
    for s in sorted(set(sizes)):
        x = x01 if x01.shape[-1] == s else F.interpolate(
            x01, size=(s, s), mode="bilinear", align_corners=False, antialias=s < x01.shape[-1])
        reals[s] = (x.clamp(0, 1) * 2 - 1).contiguous()
    return reals


class ShapesBatches:
    """Training pairs for the attentional generators: real images at every stage's size (in
    [-1, 1]) and tokenised captions (all CAPTIONS_PER_IMAGE per image; one drawn per step).

    ``x01`` (N, 3, 64, 64) in [0, 1]; ``captions`` N lists of strings; ``class_ids`` (N,)
    ids shared by images of identical scenes (the DAMSM losses' class mask) or None;
    ``twin_captions`` N lists of captions of each scene's shape twin (batches then carry
    ``twin_ids`` / ``twin_lens``, padded like ``ids``) or None; ``labels`` (N, attributes)
    the scenes' attribute labels (batches then carry ``labels``) or None.
    """

    def __init__(self, x01: torch.Tensor, captions: Sequence[Sequence[str]], vocab: Any, max_words: int,
                 sizes: Sequence[int], class_ids: torch.Tensor | None = None,
                 twin_captions: Sequence[Sequence[str]] | None = None, labels: torch.Tensor | None = None) -> None:
        self.reals = stage_reals(x01, sizes)
        self.sizes = list(sizes)
        k = len(captions[0])
        flat = [c for caps in captions for c in caps]
        ids, lens = vocab.encode_batch(flat, max_words=max_words, pad_to=max_words)
        self.ids, self.lens = ids.view(len(captions), k, -1), lens.view(len(captions), k)
        self.twin_ids = self.twin_lens = None
        if twin_captions is not None:
            flat = [c for caps in twin_captions for c in caps[:k]]
            ids, lens = vocab.encode_batch(flat, max_words=max_words, pad_to=max_words)
            self.twin_ids, self.twin_lens = ids.view(len(captions), k, -1), lens.view(len(captions), k)
        self.class_ids = class_ids
        self.labels = None if labels is None else torch.as_tensor(labels, dtype=torch.long)
        self.n = len(captions)

    def batch(self, idx: torch.Tensor, gen: torch.Generator) -> dict[str, Any]:
        pick = torch.randint(0, self.ids.shape[1], (len(idx),), generator=gen)
        lens = self.lens[idx, pick]
        out = {"reals": [self.reals[s][idx] for s in self.sizes], "lens": lens,
               "class_ids": None if self.class_ids is None else self.class_ids[idx], "index": idx,
               "labels": None if self.labels is None else self.labels[idx]}
        width = int(lens.max())
        if self.twin_ids is not None:
            out["twin_lens"] = self.twin_lens[idx, pick]
            width = max(width, int(out["twin_lens"].max()))
            out["twin_ids"] = self.twin_ids[idx, pick][:, :width]
        out["ids"] = self.ids[idx, pick][:, :width]
        return out


def scene_class_ids(labels: torch.Tensor) -> torch.Tensor:
    """One id per distinct attribute row (images of the same scene description)."""
    return torch.unique(labels, dim=0, return_inverse=True)[1]


def evaluators(evaluate: Any, *, by_default: bool, keep_best: bool, softened: bool = False) -> tuple[Any, Any]:
    """(evaluator run during training, evaluator of the final report): ``evaluate`` for both when
    given; otherwise caption accuracy on test captions when ``by_default`` (the small configs),
    checks on training captions when ``keep_best`` selects snapshots by them; ``softened`` adds
    the softened scores to the checks (``caption_accuracy_evaluator``; the final scores stay the
    plain ones that eval_all replaces)."""
    if evaluate is not None:
        return evaluate, evaluate
    final = caption_accuracy_evaluator() if by_default or keep_best else None
    return (caption_accuracy_evaluator(split="train", softened=softened) if keep_best else final), final
