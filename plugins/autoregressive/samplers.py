"""Ancestral samplers of the three autoregressive families.

Every step draws one category per sample by inverting its CDF at a uniform that the sample's own
stream (SampleRNG) drew up front, so sample i depends only on (seed, i) and its condition.
Temperature divides the logits; top-k keeps the k most likely tokens (0 = all).
"""
from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Iterator

import torch

from zoo_core.errors import BadInputError
from zoo_core.sampler import Sampler

if TYPE_CHECKING:
    from zoo_core.rng import SampleRNG

STOPS = ("eot", "newline")


def draw(logits: torch.Tensor, u: torch.Tensor, temperature: float = 1.0, top_k: int = 0) -> torch.Tensor:
    """One category per row of `logits` (n, K), by inverse CDF at uniforms `u` (n,) in [0, 1)."""
    logits = logits.float() / temperature
    if 0 < top_k < logits.shape[1]:
        kth = torch.topk(logits, top_k, dim=1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    cdf = torch.softmax(logits, 1).cumsum(1)
    target = u.to(cdf.device)[:, None].float() * cdf[:, -1:]
    return (cdf <= target).sum(1).clamp(max=logits.shape[1] - 1)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run the step loop on one intra-op thread, then restore the setting. Each step is a few
    small ops where threads only add synchronisation: on a busy machine, two threads made WaveNet
    sampling over ten times slower than one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _check_temperature(value: float) -> None:
    if not value > 0:
        raise BadInputError(f"temperature must be positive, got {value}")


class TextSampler(Sampler):
    """Tokens one at a time from the GRU, after the prompt (read from the start of a file)."""

    name = "ancestral"
    description = "token by token from p(x_t | x_<t), with temperature, top-k, a stop token and a length limit"
    options = {
        "temperature": (float, 1.0, "divide the logits by this (> 0); lower is more conservative"),
        "top_k": (int, 0, "sample among the k most likely tokens only (0 = all)"),
        "max_length": (int, 256, "at most this many tokens (characters or words) after the prompt"),
        "stop": (str, "eot", "stop at end-of-text ('eot') or also at the first newline ('newline')"),
    }

    def validate(self) -> None:
        _check_temperature(self.temperature)
        if self.top_k < 0:
            raise BadInputError(f"top_k must be 0 (off) or positive, got {self.top_k}")
        if self.max_length < 1:
            raise BadInputError(f"max_length must be at least 1, got {self.max_length}")
        if self.stop not in STOPS:
            raise BadInputError(f"stop must be one of {', '.join(STOPS)}, got {self.stop!r}")

    def __call__(self, model: Any, n: int, rng: "SampleRNG", condition: list[Any] | None) -> torch.Tensor:
        self.validate()
        u = rng.rand(self.max_length)
        with one_thread():
            return self._generate(model, condition if condition is not None else [""] * n, u)

    def _generate(self, model: Any, prompts: list[str], u: torch.Tensor) -> torch.Tensor:
        from .text import EOT

        logits, states = [], []
        for prompt in prompts:  # each prompt alone: no padding, nothing shared between samples
            step, state = model(torch.tensor([[EOT, *model.encode(prompt)]], device=model.device))
            logits.append(step[:, -1])
            states.append(state)
        last, state = torch.cat(logits), torch.cat(states, 1)
        newline = model.tokenizer.index.get("\n", -1) if self.stop == "newline" else -1
        out = torch.full((len(prompts), self.max_length), EOT, dtype=torch.long)
        done = torch.zeros(len(prompts), dtype=torch.bool)
        for t in range(self.max_length):
            tok = draw(last, u[:, t], self.temperature, self.top_k).cpu()
            ends = (tok == EOT) | (tok == newline) | done
            out[:, t] = tok.masked_fill(ends, EOT)
            done |= ends
            if bool(done.all()):
                break
            step, state = model(tok[:, None].to(model.device), state)
            last = step[:, -1]
        return out


class PixelSampler(Sampler):
    """Pixel by pixel in raster order: n * H * W forward passes (the rows below the current one
    are cropped away: masked convolutions never look down). A class-conditional model uses the
    label given, or draws one uniformly from the sample's own stream."""

    name = "ancestral"
    description = "pixel by pixel in raster order from p(x_i | x_<i)"
    options = {"temperature": (float, 1.0, "divide the logits by this (> 0)")}

    def __call__(self, model: Any, n: int, rng: "SampleRNG", condition: list[Any] | None) -> torch.Tensor:
        _check_temperature(self.temperature)
        size, classes = model.image_size, model.num_classes
        labels = None
        if classes:  # the label given, or one drawn from the uniform prior
            drawn = (rng.rand(1)[:, 0] * classes).long().clamp(max=classes - 1)
            labels = torch.tensor(condition, dtype=torch.long) if condition is not None else drawn.cpu()
        u = rng.rand(size * size)
        canvas = torch.zeros(n, 1, size, size, device=model.device)
        with one_thread():
            for i in range(size):
                for j in range(size):
                    logits = model(canvas[:, :, :i + 1], labels)[:, :, i, j]
                    k = draw(logits, u[:, i * size + j], self.temperature)
                    canvas[:, 0, i, j] = model.dequantize(k).to(canvas.device)
        return canvas


class AudioSampler(Sampler):
    """Sample by sample with the incremental (queue) WaveNet; the sound class is the label given,
    or drawn uniformly from the sample's own stream."""

    name = "ancestral"
    description = "sample by sample from p(x_t | x_<t, label) with incremental dilated convolutions"
    options = {
        "temperature": (float, 1.0, "divide the logits by this (> 0)"),
        "seconds": (float, 0.0, "clip length in seconds (0 = the model's training clip length)"),
    }

    def __call__(self, model: Any, n: int, rng: "SampleRNG", condition: list[Any] | None) -> torch.Tensor:
        _check_temperature(self.temperature)
        if self.seconds < 0 or self.seconds > 30:
            raise BadInputError(f"seconds must be between 0 and 30, got {self.seconds}")
        length = int(round(self.seconds * model.sample_rate)) if self.seconds else model.clip_length
        drawn = (rng.rand(1)[:, 0] * model.num_classes).long().clamp(max=model.num_classes - 1)
        labels = torch.tensor(condition, dtype=torch.long) if condition is not None else drawn.cpu()
        u = rng.rand(max(length, 1))
        codes = torch.zeros(n, length, dtype=torch.long)
        with torch.inference_mode(), one_thread():
            state = model.init_state(labels)
            for t in range(length):
                k = draw(model.step(state), u[:, t], self.temperature)
                model.feed(state, k)
                codes[:, t] = k.cpu()
        return model.decode(codes)
