"""Bookkeeping shared by the zoo's trainers: seeding and per-epoch loss averages.

A trainer keeps only its recipe; the meter keeps the running sums, the history rows that go
into ``training.json`` and the model card, the log line and the wall and CPU clocks::

    gen = setup(seed, threads)
    meter = EpochMeter("loss", "kl", digits=3, log=log, line="loss {loss:.2f}  kl {kl:.2f}")
    for epoch in range(epochs):
        for x in batches:
            ...
            meter.add(len(x), loss=loss.item(), kl=kl.item())  # weighted by examples
        meter.end_epoch(epoch + 1)
    report = {"wall_time_s": round(meter.wall_s, 1), "history": meter.history, ...}
"""
from __future__ import annotations

import time
from typing import Any, Callable

import torch

__all__ = ["EpochMeter", "setup"]


def setup(seed: int, threads: int | None) -> torch.Generator:
    """Use `threads` torch threads (if given), seed torch's global RNG, and return a CPU
    generator seeded alike, for the trainer's own draws (batch order, noise)."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


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
