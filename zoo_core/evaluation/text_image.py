"""Evaluators of text-to-image models: does the image show what its prompt says?

- ``r_precision`` (AttnGAN, Xu et al. 2018, section 4): for each generated image, its prompt
  and 99 mismatched captions are ranked by the cosine between the DAMSM image code and
  sentence features; R-precision is the fraction of images whose own prompt ranks first.
  A caption that is also true of the image's prompt (e.g. "a red circle" for "a small red
  circle above a blue square") never serves as a mismatch.
- ``caption_accuracy``: the shapes attribute classifier reads each image; an image counts
  when every attribute its prompt states (shape, colour, size, layout, background) is seen.

Both use the run's samples and prompts (``EvalContext.conditions``: the data set's test
captions unless prompts were given), and the encoders published for the model's data set
(catalog families "damsm" and "shapes-classifier").
"""
from __future__ import annotations

from typing import Any

import torch

from ..errors import BadInputError
from ..evaluator import Evaluator

BATCH = 256


def _needs_prompts(model: Any) -> str | None:
    if getattr(model, "kind", None) != "image" or getattr(model, "condition_kind", None) != "text":
        return "it scores images generated from prompts; this model is not a text-to-image model"
    return None


def _model_for(family: str, dataset: str, pull: bool) -> Any:
    """The catalog's model of a family for a data set (its default tag first)."""
    from ..catalog import get_catalog
    from ..loading import load

    specs = sorted((s for s in get_catalog().specs.values() if s.family == family and s.dataset == dataset),
                   key=lambda s: (not s.default, s.name))
    if not specs:
        raise BadInputError(f"no {family} model is published for the data set {dataset!r}")
    return load(specs[0].name, pull=pull, progress=False).eval()


def _prompts(context: Any, n: int) -> list[str]:
    conds = context.conditions()
    if not conds:
        raise BadInputError("this metric needs the prompts of the samples")
    return [conds[i % len(conds)] for i in range(n)]


class RPrecision(Evaluator):
    name = "r_precision"
    description = "DAMSM R-precision: the prompt ranks first among 100 captions (Xu et al., 2018); higher is better"
    min_samples = 100
    candidates = 100

    def applies_to(self, model: Any) -> str | None:
        return _needs_prompts(model)

    @torch.no_grad()
    def evaluate(self, model: Any, context: Any) -> dict[str, float]:
        from ..blocks.damsm import r_precision
        from ..data.shapes import parse_caption

        s = context.settings
        damsm = _model_for("damsm", s.dataset, s.pull).to(s.device)
        images = context.samples01()
        prompts = _prompts(context, len(images))
        codes, sents = [], []
        for i in range(0, len(images), BATCH):
            codes.append(damsm.encode_images(images[i:i + BATCH].to(s.device) * 2 - 1)[1].cpu())
            sents.append(damsm.encode_text(prompts[i:i + BATCH])[1].cpu())
        stated = [parse_caption(p) for p in prompts]
        # caption j is no mismatch for image i when everything it states, prompt i states too
        exclude = torch.tensor([[all(si.get(k) == v for k, v in sj.items()) for sj in stated] for si in stated])
        out = r_precision(torch.cat(codes), torch.cat(sents), candidates=self.candidates, exclude=exclude,
                          generator=torch.Generator().manual_seed(s.seed))
        context.record["r_precision"] = {"encoders": getattr(damsm.spec, "name", "damsm"),
                                         "candidates": self.candidates, "folds": 10}
        return {"r_precision": out["r_precision"], "r_precision_std": out["std"]}


class CaptionAccuracy(Evaluator):
    name = "caption_accuracy"
    description = "the attribute classifier sees every attribute the prompt states (shapes); higher is better"
    min_samples = 1

    def applies_to(self, model: Any) -> str | None:
        return _needs_prompts(model)

    @torch.no_grad()
    def evaluate(self, model: Any, context: Any) -> dict[str, float]:
        s = context.settings
        clf = _model_for("shapes-classifier", s.dataset, s.pull).to(s.device)
        images = context.samples01()
        prompts = _prompts(context, len(images))
        if images.shape[-1] != clf.image_size:
            images = torch.nn.functional.interpolate(images, size=(clf.image_size,) * 2, mode="bilinear",
                                                     align_corners=False).clamp(0, 1)
        out = clf.caption_accuracy(images.to(s.device), prompts)
        context.record["caption_accuracy"] = {"classifier": getattr(clf.spec, "name", "shapes-classifier")}
        return out
