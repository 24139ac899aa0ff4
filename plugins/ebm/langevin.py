"""Langevin dynamics on an energy E(x), the replay buffer used in training, and the sampler.

One step (Du & Mordatch 2019, eq. 3, on images in [lo, hi])::

    x <- clamp(x - step_size / 2 * clip(grad_x E(x), +-grad_clip) + noise * eps, lo, hi)

with eps ~ N(0, I). The energies of a batch are summed before differentiating, and E has no
batch statistics, so each chain's gradient depends on its own x only: sample i depends only on
its own random stream.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import torch

from zoo_core.chains import run_chains
from zoo_core.errors import BadInputError
from zoo_core.rng import SampleRNG
from zoo_core.sampler import Sampler

if TYPE_CHECKING:
    from torch import nn


def energy_grad(energy: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """grad_x sum_i E(x_i), without touching the energy's parameter gradients."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(energy(x).sum(), x)
    return grad


def langevin_step(energy: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, eps: torch.Tensor, *,
                  step_size: float, noise: float, grad_clip: float | None = None,
                  value_range: tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
    """One Langevin step; ``eps`` is standard normal noise shaped like x."""
    grad = energy_grad(energy, x)
    if grad_clip:
        grad = grad.clamp(-grad_clip, grad_clip)
    x = x.detach() - 0.5 * step_size * grad + noise * eps
    return x.clamp(*value_range)


def langevin(energy: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, steps: int, *,
             step_size: float, noise: float, grad_clip: float | None = None,
             value_range: tuple[float, float] = (0.0, 1.0),
             generator: torch.Generator | None = None) -> torch.Tensor:
    """`steps` Langevin steps from x with noise from a torch.Generator (training)."""
    for _ in range(steps):
        eps = torch.randn(x.shape, generator=generator).to(x.device) if noise else torch.zeros_like(x)
        x = langevin_step(energy, x, eps, step_size=step_size, noise=noise, grad_clip=grad_clip,
                          value_range=value_range)
    return x.detach()


class LangevinSampler(Sampler):
    """Langevin dynamics from uniform noise; defaults are the settings the energy was trained with."""

    name = "langevin"
    description = "short-run Langevin dynamics on the energy, started from uniform noise"
    options = {
        "steps": (int, None, "Langevin steps per sample (default: the model's sample_steps); "
                             "with --chains, steps between successive samples of a chain"),
        "burn_in": (int, 0, "extra Langevin steps before the first sample is kept"),
        "chains": (int, 0, "chains per batch of samples; 0: one chain per sample"),
        "step_size": (float, None, "step size lambda in x - lambda/2 grad E (default: the model's)"),
        "noise": (float, None, "std of the Gaussian noise added each step (default: the model's)"),
    }

    def settings(self, model: Any) -> dict[str, Any]:
        steps = model.sample_steps if self.steps is None else self.steps
        step_size = model.step_size if self.step_size is None else self.step_size
        noise = model.noise if self.noise is None else self.noise
        if step_size < 0 or noise < 0:
            raise BadInputError(f"step_size and noise must be >= 0, got {step_size} and {noise}")
        return {"steps": steps, "step_size": step_size, "noise": noise}

    def chain(self, model: "nn.Module", n: int, rng: SampleRNG) -> torch.Tensor:
        """The chains' states (n, *model.energy_shape), before any upsampling."""
        s = self.settings(model)
        shape = model.energy_shape
        lo, hi = model.value_range

        def init(r: SampleRNG) -> torch.Tensor:
            return (lo + (hi - lo) * r.rand(*shape)).to(model.device)

        def transition(x: torch.Tensor, r: SampleRNG) -> torch.Tensor:
            eps = r.randn(*shape).to(model.device)
            return langevin_step(model, x, eps, step_size=s["step_size"], noise=s["noise"],
                                 grad_clip=model.grad_clip, value_range=(lo, hi))

        return run_chains(rng, n, chains=self.chains, burn_in=self.burn_in, steps=s["steps"],
                          init=init, transition=transition, emit=lambda x: x.detach())

    def __call__(self, model: "nn.Module", n: int, rng: SampleRNG, condition: list[Any] | None) -> torch.Tensor:
        return model.to_image(self.chain(model, n, rng))


class ReplayBuffer:
    """Past negatives (Du & Mordatch, section 3.1): a batch is drawn from the buffer, except a
    fraction ``reinit`` restarted from uniform noise; after Langevin the results are written back
    into the slots they came from. The buffer starts as uniform noise.

    ``max_age`` (None in the paper) also restarts a slot from noise once its chain has been
    extended that many times, so every negative is a chain of at most max_age x K steps from
    uniform noise: the same kind of chain the published sampler runs (short-run MCMC, Nijkamp
    et al. 2019), while each update still pays for only K steps.
    """

    def __init__(self, capacity: int, shape: tuple[int, ...], *, reinit: float = 0.05,
                 max_age: int | None = None, value_range: tuple[float, float] = (0.0, 1.0),
                 generator: torch.Generator | None = None) -> None:
        self.lo, self.hi = value_range
        self.reinit, self.max_age = reinit, max_age
        self.generator = generator
        self.data = self._uniform((capacity, *shape))
        self.age = torch.zeros(capacity, dtype=torch.long)  # Langevin runs since the last restart

    def __len__(self) -> int:
        return len(self.data)

    def _uniform(self, shape: tuple[int, ...]) -> torch.Tensor:
        return self.lo + (self.hi - self.lo) * torch.rand(shape, generator=self.generator)

    def sample(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, slots): n starting points and the buffer slots they are written back to."""
        slots = torch.randint(0, len(self.data), (n,), generator=self.generator)
        x = self.data[slots].clone()
        fresh = torch.rand(n, generator=self.generator) < self.reinit
        if self.max_age is not None:
            fresh |= self.age[slots] >= self.max_age
        if fresh.any():
            x[fresh] = self._uniform((int(fresh.sum()), *x.shape[1:]))
            self.age[slots[fresh]] = 0
        return x, slots

    def push(self, x: torch.Tensor, slots: torch.Tensor) -> None:
        """Write the chains back after one more Langevin run."""
        self.data[slots] = x.detach().to(self.data.device, self.data.dtype)
        self.age[slots] += 1
