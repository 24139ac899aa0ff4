"""GAN-INT-CLS samplers: the base's ``ancestral`` sampler, and ``interpolate``, which walks the
text embedding between two prompts as in the paper's interpolation figures (GAN-INT).

Every draw comes from the per-sample SampleRNG, so sample i depends only on (seed, i).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from zoo_core.blocks.text_to_image import TextFeatures, TextToImageSampler
from zoo_core.errors import BadInputError

if TYPE_CHECKING:
    from zoo_core.rng import SampleRNG

__all__ = ["InterpolateSampler", "TextToImageSampler"]

ROW_LENGTHS = (2, 4, 8, 16)  # divisors of the seeded sampling batch (16): a row never straddles two


class InterpolateSampler(TextToImageSampler):
    """Sample i shows phi = (1 - a) phi(prompt_i) + a phi(--to), a = (i mod steps) / (steps - 1),
    with the noise of the first sample of its row, so each row of ``steps`` images keeps its
    style while the text moves from its prompt to the target."""

    name = "interpolate"
    description = "text-embedding interpolation from each prompt to --to PROMPT, z fixed along a row"
    options = {
        "to": (str, None, "the prompt the interpolation ends at"),
        "steps": (int, 8, "images per row, from the prompt (first) to --to (last): 2, 4, 8 or 16"),
        "truncation": (float, 0.0, "resample noise entries beyond +-t (0: no truncation)"),
    }

    def __call__(self, model: Any, n: int, rng: "SampleRNG", condition: list[Any] | None) -> torch.Tensor:
        if self.to is None:
            raise BadInputError("the interpolate sampler needs --to PROMPT (where the interpolation ends)")
        if self.steps not in ROW_LENGTHS:
            raise BadInputError(f"--steps must be one of {', '.join(map(str, ROW_LENGTHS))}, got {self.steps}")
        if model.text_encoder is None:
            raise BadInputError(f"this {model.family} model has no text encoder, so it cannot read prompts")
        if condition is None:
            raise BadInputError(f"{model.family} is conditional: give a prompt for the samples")
        model.check_condition(self.to)  # names out-of-vocabulary words
        start = getattr(rng, "start", 0)
        index = torch.arange(start, start + n)
        column = index % self.steps
        alpha = (column.float() / (self.steps - 1))[:, None].to(model.device)
        source = model.encode_prompts(condition).sentence
        target = model.encode_prompts([self.to]).sentence.expand_as(source)
        sentence = (1 - alpha) * source + alpha * target
        z = (rng.truncated_randn(model.z_dim, threshold=self.truncation) if self.truncation > 0
             else rng.randn(model.z_dim))
        if len(z) != n:
            raise BadInputError(f"the interpolate sampler needs one noise stream per sample, got {len(z)} for {n}")
        first = (torch.arange(n) - column).clamp(min=0)  # the row's first sample (in this batch)
        out = model.generate(z[first], TextFeatures(words=None, sentence=sentence))
        return out.images[-1]
