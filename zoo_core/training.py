"""Bookkeeping shared by the zoo's trainers: the recipe, the default data, seeding and
per-epoch loss averages.

A trainer keeps only its recipe; the meter keeps the running sums, the history rows that go
into ``training.json`` and the model card, the log line and the wall and CPU clocks::

    recipe = recipe_for(config, TRAINING_FOR, TRAINING, overrides)
    epochs, batch_size, lr = hyperparameters(recipe, epochs, batch_size, lr)
    gen = setup(seed, threads)
    data, test = digits_unless_given(data, cfg["image_size"])
    meter = EpochMeter("loss", "kl", digits=3, log=log, line="loss {loss:.2f}  kl {kl:.2f}")
    for epoch in range(epochs):
        for x in shuffled_batches(data, batch_size, gen):
            ...
            meter.add(len(x), loss=loss.item(), kl=kl.item())  # weighted by examples
        meter.end_epoch(epoch + 1)
    report = {"wall_time_s": round(meter.wall_s, 1), "history": meter.history, ...}
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterator, Mapping

import torch

from .data.digits import load_digits

__all__ = ["EpochMeter", "digits_unless_given", "hyperparameters", "recipe_for", "setup", "shuffled_batches"]


def recipe_for(config: str | Mapping[str, Any], named: Mapping[str, Mapping[str, Any]],
               default: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The training recipe for `config`: ``named[config]`` for a config name that has its own
    recipe, else `default` (also for a config given as a dict), with `overrides` on top.

    Returns a new dict, so a trainer never edits the family's recipe tables."""
    base = named.get(config, default) if isinstance(config, str) else default
    return {**base, **(overrides or {})}


def hyperparameters(recipe: Mapping[str, Any], epochs: int | None, batch_size: int | None,
             lr: float | None) -> tuple[int, int, float]:
    """(epochs, batch_size, lr): each the caller's where given, else the recipe's.

    ``epochs=0`` is taken as given (build and report without training); a batch size or
    learning rate of 0 cannot train, so 0 falls back to the recipe's like None."""
    return (recipe["epochs"] if epochs is None else epochs, batch_size or recipe["batch_size"],
            lr or recipe["lr"])


def digits_unless_given(data: torch.Tensor | None, size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(train, test): the caller's `data` and no test split, or, when `data` is None, the digits'
    train and test splits at `size` x `size` (the test split feeds the report's metrics)."""
    if data is not None:
        return data, None
    return load_digits("train", size=size), load_digits("test", size=size)


def setup(seed: int, threads: int | None) -> torch.Generator:
    """Use `threads` torch threads (if given), seed torch's global RNG, and return a CPU
    generator seeded alike, for the trainer's own draws (batch order, noise)."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def shuffled_batches(data: torch.Tensor, batch_size: int, generator: torch.Generator, *,
                     drop_last: bool = False) -> Iterator[torch.Tensor]:
    """One epoch: `data` in a fresh random order (one ``randperm`` from `generator`), in batches
    of `batch_size`; the last, smaller batch is kept unless `drop_last`."""
    perm = torch.randperm(len(data), generator=generator)
    stop = len(perm) - batch_size + 1 if drop_last else len(perm)
    for i in range(0, stop, batch_size):
        yield data[perm[i:i + batch_size]]


class EpochMeter:
    """Per-epoch averages of named values, the history of those rows, and the clocks.

    ``keys`` name the averaged columns, in row order; each is 0.0 in an epoch that never added it.
    ``line`` is a ``str.format`` template over the row for the log (default: every column);
    the log gets ``epoch N  <line>  Ss``. With ``every`` > 1 only every `every`-th epoch, the
    last of ``epochs`` and an epoch ended with ``final=True`` are logged. ``log=None`` is quiet.
    The clocks start when the meter is made.
    """

    def __init__(self, *keys: str, digits: int = 4, log: Callable[[str], None] | None = print,
                 line: str | None = None, every: int = 1, epochs: int | None = None) -> None:
        self.keys, self.digits, self.log, self.line = keys, digits, log, line
        self.every, self.epochs = every, epochs
        self.history: list[dict[str, Any]] = []
        self._sums: dict[str, float] = {}
        self._weights: dict[str, float] = {}
        self._start, self._cpu_start = time.perf_counter(), time.process_time()

    def add(self, weight: float = 1, **values: float) -> None:
        """Add `values` (plain floats), each counted `weight` times: weight 1 averages over
        batches, weight = batch size over examples seen."""
        for k, v in values.items():
            self._sums[k] = self._sums.get(k, 0.0) + v * weight
            self._weights[k] = self._weights.get(k, 0) + weight

    def end_epoch(self, epoch: int, *, final: bool = False, **extra: Any) -> dict[str, Any]:
        """Close epoch `epoch` (counted from 1): append and return the row ``{"epoch", <keys>
        averaged and rounded to `digits`, <extra>, "seconds"}``, log it, and start new sums."""
        keys = list(self.keys) + [k for k in self._sums if k not in self.keys]
        row: dict[str, Any] = {"epoch": epoch}
        for k in keys:
            row[k] = round(self._sums.get(k, 0.0) / max(self._weights.get(k, 0), 1), self.digits)
        row.update(extra)
        row["seconds"] = round(self.wall_s, 1)
        self.history.append(row)
        self._sums, self._weights = {}, {}
        if self.log and (final or epoch % self.every == 0 or epoch == self.epochs):
            body = self.line.format(**row) if self.line is not None else "  ".join(
                f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
                for k, v in row.items() if k not in ("epoch", "seconds"))
            self.log(f"epoch {epoch:3d}  {body}  {row['seconds']:.0f}s")
        return row

    @property
    def last(self) -> dict[str, Any]:
        """The latest row, or {} before the first epoch ends."""
        return self.history[-1] if self.history else {}

    @property
    def wall_s(self) -> float:
        """Wall-clock seconds since the meter was made."""
        return time.perf_counter() - self._start

    @property
    def cpu_s(self) -> float:
        """CPU seconds of this process since the meter was made."""
        return time.process_time() - self._cpu_start
