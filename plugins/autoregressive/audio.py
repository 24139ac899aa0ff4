"""Procedural audio for WaveNet: mu-law companding and a seeded set of tones, chords and chirps.

Every clip is a function of (seed, index) only, so the training and held-out sets are exactly
reproducible without shipping audio. A clip is: a short silence, an attack, then a sound held to
the end of the clip, at a random level and phase with a little second harmonic. The sound class
is the clip's label (WaveNet's optional global condition).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

MU = 255  # 8-bit mu-law, as in the paper (256-way softmax)


@dataclass(frozen=True)
class Sound:
    """A sound class: a steady tone or chord (``freqs``) or a linear chirp (``chirp`` = (f0, f1))."""

    name: str
    freqs: tuple[float, ...] = ()
    chirp: tuple[float, float] | None = None

    @property
    def pitch(self) -> float:
        """The frequency that should dominate the spectrum (the root of a chord; chirps: none)."""
        return self.freqs[0] if self.freqs else float("nan")


# Equal-tempered pitches (A4 = 440 Hz).
A3, C4, E4, G4, A4, C5, G3, B3, D4 = 220.0, 261.63, 329.63, 392.0, 440.0, 523.25, 196.0, 246.94, 293.66
SOUNDS: tuple[Sound, ...] = (
    Sound("tone A3", (A3,)), Sound("tone C4", (C4,)), Sound("tone E4", (E4,)),
    Sound("tone G4", (G4,)), Sound("tone A4", (A4,)), Sound("tone C5", (C5,)),
    Sound("chord C major", (C4, E4, G4)), Sound("chord A minor", (A3, C4, E4)),
    Sound("chord G major", (G3, B3, D4)),
    Sound("chirp up", chirp=(200.0, 800.0)), Sound("chirp down", chirp=(800.0, 200.0)),
)
LABELS = tuple(s.name for s in SOUNDS)


def mu_law_encode(x: torch.Tensor, mu: int = MU) -> torch.Tensor:
    """Audio in [-1, 1] -> integer codes 0..mu (mu-law companding, then uniform quantisation)."""
    x = x.float().clamp(-1, 1)
    y = torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)
    return ((y + 1) / 2 * mu).round().long().clamp(0, mu)


def mu_law_decode(codes: torch.Tensor, mu: int = MU) -> torch.Tensor:
    """Integer codes 0..mu -> audio in [-1, 1] (the inverse of `mu_law_encode` up to quantisation)."""
    y = codes.float() / mu * 2 - 1
    return torch.sign(y) * ((1 + mu) ** y.abs() - 1) / mu


def make_clip(label: int, rng: np.random.Generator, sample_rate: int, length: int) -> np.ndarray:
    """One clip of `length` samples of sound class `label`, in [-1, 1]."""
    sound = SOUNDS[label]
    t = np.arange(length) / sample_rate
    level = rng.uniform(0.3, 0.7)
    harmonic = rng.uniform(0.0, 0.2)
    if sound.chirp is not None:
        f0, f1 = sound.chirp
        duration = length / sample_rate
        phase = 2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * duration)) + rng.uniform(0, 2 * np.pi)
        wave = np.sin(phase) + harmonic * np.sin(2 * phase)
    else:
        wave = np.zeros(length)
        for f in sound.freqs:
            phase = 2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)
            wave += np.sin(phase) + harmonic * np.sin(2 * phase)
        wave /= len(sound.freqs)
    wave = level * wave / (1 + harmonic)
    onset = int(rng.uniform(0.0, 0.02) * sample_rate)  # up to 20 ms of silence
    attack = max(1, int(rng.uniform(0.005, 0.02) * sample_rate))
    envelope = np.clip((np.arange(length) - onset) / attack, 0.0, 1.0)
    return (wave * envelope).astype(np.float32)


def make_dataset(n: int, *, seed: int, sample_rate: int = 8000, length: int = 4000,
                 num_classes: int = len(SOUNDS)) -> tuple[torch.Tensor, torch.Tensor]:
    """(audio (n, length) in [-1, 1], labels (n,)): clip i is a function of (seed, i) only;
    labels cycle through the first `num_classes` sound classes."""
    if not 1 <= num_classes <= len(SOUNDS):
        raise ValueError(f"num_classes must be in 1..{len(SOUNDS)}, got {num_classes}")
    clips, labels = [], []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        label = i % num_classes
        clips.append(make_clip(label, rng, sample_rate, length))
        labels.append(label)
    return torch.from_numpy(np.stack(clips)), torch.tensor(labels, dtype=torch.long)


def dominant_frequency(audio: torch.Tensor | np.ndarray, sample_rate: int, skip_s: float = 0.05) -> float:
    """The frequency (Hz) of the largest peak of the magnitude spectrum (numpy FFT, Hann window),
    refined by parabolic interpolation; the first `skip_s` seconds (the onset) are left out of
    clips longer than twice that."""
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    skip = int(skip_s * sample_rate)
    x = x[skip:] if len(x) > 2 * skip else x
    x = x - x.mean()
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    k = int(np.argmax(spectrum[1:])) + 1
    if 1 <= k < len(spectrum) - 1:
        a, b, c = np.log(spectrum[k - 1:k + 2] + 1e-12)
        k = k + 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else k
    return float(k * sample_rate / len(x))
