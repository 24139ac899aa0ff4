"""Trainers of the three families: maximum likelihood (teacher-forced next-step cross-entropy)
with Adam, a cosine learning-rate decay, gradient clipping and a wall-clock budget.

Each ``train_*(config, ...)`` returns ``(model, report)``: the trained model and a JSON-able report
(recipe, wall time, history, final losses, held-out metrics) that scripts/train.py saves and
scripts/publish.py puts in the model card. ``epochs`` counts passes over the training set (in
sampled windows for the text and audio models); the recipe's ``minutes`` caps the wall time.
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable

import torch

from zoo_core.errors import BadInputError
from zoo_core.training import setup

from .config import get_config

LN2 = math.log(2)
Log = Callable[[str], None] | None


def fit(model: torch.nn.Module, batch: Callable[[int], Any], loss: Callable[[Any], torch.Tensor], *,
        steps: int, minutes: float | None, lr: float, log: Log, clip: float = 1.0,
        log_every: int = 50) -> tuple[list[dict[str, float]], int, float]:
    """Adam on `loss(batch(step))` for `steps` steps or `minutes`, whichever ends first; the
    learning rate follows a cosine from `lr` to 0 over that span. Returns (history, steps, wall)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    start, history, total, count, done = time.perf_counter(), [], 0.0, 0, 0
    model.train()
    for step in range(steps):
        elapsed = time.perf_counter() - start
        progress = max(step / steps, elapsed / (minutes * 60) if minutes else 0.0)
        if progress >= 1:
            break
        for group in opt.param_groups:
            group["lr"] = lr * min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * progress))
        value = loss(batch(step))
        opt.zero_grad(set_to_none=True)
        value.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        total, count, done = total + value.item(), count + 1, done + 1
        if done % log_every == 0:
            row = {"step": done, "loss_nats": round(total / count, 4),
                   "seconds": round(time.perf_counter() - start, 1)}
            history.append(row)
            total, count = 0.0, 0
            if log:
                log(f"step {row['step']:5d}  loss {row['loss_nats']:.4f} nats  {row['seconds']:.0f}s")
    if count:
        history.append({"step": done, "loss_nats": round(total / count, 4),
                        "seconds": round(time.perf_counter() - start, 1)})
    model.eval()
    return history, done, time.perf_counter() - start


def _report(family: str, cfg: dict, recipe: dict, history: list, wall: float,
            metrics: dict, final_key: str) -> dict[str, Any]:
    last = history[-1]["loss_nats"] if history else None
    return {"family": family, "config": cfg, "recipe": recipe, "wall_time_s": round(wall, 1),
            "final": {final_key: None if last is None else round(last / LN2, 4)},
            "history": history, "metrics": metrics}


# -- gru-lm ----------------------------------------------------------------------------------
@torch.no_grad()
def stream_nats(model: Any, ids: torch.Tensor, chunk: int = 2048) -> float:
    """-log p of an id stream after its first id, read in order with the GRU state carried over."""
    model.eval()
    state, nats = None, 0.0
    for s in range(0, len(ids) - 1, chunk):
        x, y = ids[s:s + chunk][None], ids[s + 1:s + chunk + 1][None]
        logits, state = model(x[:, :y.shape[1]].to(model.device), state)
        nats += torch.nn.functional.cross_entropy(logits[0].float(), y[0].to(model.device), reduction="sum").item()
    return nats


def _describe(info: dict[str, Any]) -> str:
    return (f"{info['files']} modules ({', '.join(info['modules'])}), {info['characters']:,} characters, "
            f"sha256 {info['sha256']}")


def train_gru_lm(config: str | dict[str, Any] = "small", *, epochs: int | None = None, seed: int = 0,
                 steps: int | None = None, minutes: float | None = None, files: list[str] | None = None,
                 test_files: list[str] | None = None, threads: int | None = 1, device: str = "cpu",
                 log: Log = print):
    """Train on the standard-library corpus (or `files`), windows of `seq_len` characters."""
    from .gru_lm import GRULanguageModel
    from .text import Tokenizer, corpus_info, load_corpus

    gen = setup(seed, threads)
    cfg, rec = get_config("gru-lm", config)
    info = corpus_info(files, "custom") if files is not None else None
    files = files if files is not None else load_corpus("train")
    info = info or corpus_info(files, "train")
    tok = Tokenizer(cfg["vocab"]) if "vocab" in cfg else Tokenizer.from_corpus(files, rec.get("words", 0))
    cfg["vocab"] = tok.vocab
    ids = tok.encode_corpus(files)
    model = GRULanguageModel(**cfg).to(device)
    bs, seq = rec["batch_size"], rec["seq_len"]
    per_epoch = max(1, len(ids) // (bs * seq))
    steps = steps or (epochs * per_epoch if epochs else rec["steps"])

    def batch(_step: int) -> torch.Tensor:
        starts = torch.randint(0, len(ids) - seq - 1, (bs,), generator=gen)
        return torch.stack([ids[s:s + seq + 1] for s in starts]).to(device)

    history, done, wall = fit(model, batch, model.loss, steps=steps, lr=rec["lr"], log=log,
                              minutes=rec["minutes"] if minutes is None else minutes)
    test = test_files if test_files is not None else load_corpus("test")
    test_ids = tok.encode_corpus(test)
    chars = len(tok.decode([i for i in test_ids.tolist() if i]))  # the text the ids spell
    nats = stream_nats(model, test_ids)
    metrics = {"test_bits_per_char": round(nats / chars / LN2, 4),
               "test_bits_per_token": round(nats / (len(test_ids) - 1) / LN2, 4),
               "test_characters": chars, "test_tokens": len(test_ids) - 1}
    recipe = {"data": f"{info['characters']:,} characters of Python standard-library source "
                      f"({info['files']} modules, Python {info['python']}, {info['license']}), "
                      f"sha256 {info['sha256']}",
              "train_modules": ", ".join(info["modules"]),
              "test_split": _describe(corpus_info(test, "test")) if test_files is None else "custom",
              "tokenizer": (f"{len(tok) - 1} tokens + end-of-text: "
                            + (f"every character and the {rec['words']} most frequent words, numbers and "
                               "space runs (other words spelled from the longest matching entries)"
                               if rec.get("words") else "characters")
                            + "; vocabulary in config.json; bits/char counts the canonical tokenisation"),
              "objective": "next-character cross-entropy on random windows",
              "optimizer": f"Adam lr {rec['lr']:g}, cosine decay, grad-norm clip 1",
              "batch_size": bs, "window": seq, "steps": done, "epochs": round(done / per_epoch, 2),
              "seed": seed, "device": f"{device}, {torch.get_num_threads()} threads"}
    return model, _report("gru-lm", cfg, recipe, history, wall, metrics, "train_bits_per_char")


# -- pixelcnn --------------------------------------------------------------------------------
@torch.no_grad()
def pixelcnn_bits_per_dim(model: Any, x01: torch.Tensor, batch_size: int = 128) -> dict[str, float]:
    """Discrete bits/dim of the quantised images and the continuous (dequantised) bits/dim."""
    model.eval()
    logp = torch.cat([model.log_prob_discrete(x01[s:s + batch_size]).double().cpu()
                      for s in range(0, len(x01), batch_size)])
    dims = x01[0].numel()
    discrete = float(-logp.mean() / (dims * LN2))
    return {"bits_per_dim_discrete": round(discrete, 4),
            "bits_per_dim_continuous": round(discrete - math.log2(model.levels), 4)}


def train_pixelcnn(config: str | dict[str, Any] = "small", *, epochs: int | None = None, seed: int = 0,
                   steps: int | None = None, minutes: float | None = None, data: torch.Tensor | None = None,
                   threads: int | None = 1, device: str = "cpu", log: Log = print):
    """Train on the digits train split at the config's size (or `data`, (N, 1, H, W) in [0, 1])."""
    from zoo_core.data.digits import load_digits

    from .pixelcnn import PixelCNN

    gen = setup(seed, threads)
    cfg, rec = get_config("pixelcnn", config)
    if data is None:
        x, y = load_digits("train", size=cfg["image_size"], with_labels=True)
    else:
        x, y = data if isinstance(data, (tuple, list)) else (data, None)
    x = x.float()
    model = PixelCNN(**cfg).to(device)
    if model.num_classes and y is None:
        raise BadInputError("a class-conditional pixelcnn needs (images, labels) to train")
    x = model.dequantize(model.quantize(x))  # train on exactly the levels the model sees
    bs = rec["batch_size"]
    per_epoch = max(1, len(x) // bs)
    steps = steps or (epochs or rec["epochs"]) * per_epoch
    perms: dict[int, torch.Tensor] = {}

    def batch(step: int) -> Any:
        epoch, i = divmod(step, per_epoch)
        if epoch not in perms:
            perms.clear()
            perms[epoch] = torch.randperm(len(x), generator=gen)
        idx = perms[epoch][i * bs:(i + 1) * bs]
        return (x[idx].to(device), y[idx].to(device)) if model.num_classes else x[idx].to(device)

    history, done, wall = fit(model, batch, model.loss, steps=steps, lr=rec["lr"], log=log, log_every=20,
                              minutes=rec["minutes"] if minutes is None else minutes)
    metrics: dict[str, Any] = {}
    if data is None:
        test = load_digits("test", size=cfg["image_size"])
        bpd = pixelcnn_bits_per_dim(model, test)  # p(x): the label is marginalised out
        metrics = {"test_bits_per_dim_discrete": bpd["bits_per_dim_discrete"],
                   "test_bits_per_dim_continuous": bpd["bits_per_dim_continuous"],
                   "train_bits_per_dim_discrete": pixelcnn_bits_per_dim(model, x[:len(test)])["bits_per_dim_discrete"],
                   "test_examples": len(test), "levels": cfg["levels"]}
    recipe = {"data": f"{len(x)} digits at {cfg['image_size']}x{cfg['image_size']}, quantised to "
                      f"{cfg['levels']} grey levels (level k = floor(x * {cfg['levels']}))",
              "objective": "exact negative log-likelihood (per-pixel softmax over levels)" + (
                  ", given the digit label (p(x) sums over a uniform label prior)" if model.num_classes else ""),
              "optimizer": f"Adam lr {rec['lr']:g}, cosine decay, grad-norm clip 1",
              "batch_size": bs, "steps": done, "epochs": round(done / per_epoch, 2), "seed": seed,
              "bits_per_dim": "discrete = -log2 P(levels) / D; continuous = discrete - log2(levels) "
                              "(the density of the uniformly dequantised model on [0, 1])",
              "device": f"{device}, {torch.get_num_threads()} threads"}
    return model, _report("pixelcnn", cfg, recipe, history, wall, metrics, "train_bits_per_dim")


# -- wavenet ---------------------------------------------------------------------------------
@torch.no_grad()
def wavenet_bits_per_sample(model: Any, audio: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Held-out bits per audio sample, given the label and marginalised over labels."""
    model.eval()
    t = audio.shape[1]
    given = model.log_prob(audio, labels).double().mean()
    marginal = model.log_prob(audio).double().mean()
    return {"bits_per_sample_given_label": round(float(-given / (t * LN2)), 4),
            "bits_per_sample": round(float(-marginal / (t * LN2)), 4)}


@torch.no_grad()
def pitch_check(model: Any, seed: int = 0) -> dict[str, Any]:
    """Sample one clip per steady-tone class (seed `seed`) and measure its dominant frequency
    (numpy FFT): the per-class pitches and the mean and worst relative errors in percent."""
    from .audio import SOUNDS, dominant_frequency

    tones = [i for i, s in enumerate(SOUNDS[:model.num_classes]) if len(s.freqs) == 1]
    if not tones:
        return {}
    clips = model.sample(len(tones), condition=tones, generator=seed).data
    found = {SOUNDS[k].name: round(dominant_frequency(c, model.sample_rate), 1) for k, c in zip(tones, clips)}
    errors = [abs(found[SOUNDS[k].name] / SOUNDS[k].pitch - 1) * 100 for k in tones]
    return {"tone_pitch_error_pct_mean": round(sum(errors) / len(errors), 2),
            "tone_pitch_error_pct_max": round(max(errors), 2), "measured": found}


def train_wavenet(config: str | dict[str, Any] = "small", *, epochs: int | None = None, seed: int = 0,
                  steps: int | None = None, minutes: float | None = None, threads: int | None = 1,
                  device: str = "cpu", log: Log = print):
    """Train on procedural clips (seed `seed`); windows of `window` scored samples, each with up
    to a receptive field of real context before it (or the silence before the clip)."""
    from .audio import LABELS, make_dataset, mu_law_encode
    from .wavenet import WaveNet

    gen = setup(seed, threads)
    cfg, rec = get_config("wavenet", config)
    model = WaveNet(**cfg).to(device)
    length, k = model.clip_length, cfg["num_classes"]
    audio, labels = make_dataset(rec["clips"], seed=seed, sample_rate=cfg["sample_rate"],
                                 length=length, num_classes=k)
    codes = mu_law_encode(audio)
    window, rf, bs = min(rec["window"], length), model.receptive_field, rec["batch_size"]
    per_epoch = max(1, len(codes) * length // (bs * window))
    steps = steps or (epochs * per_epoch if epochs else rec["steps"])

    def batch(_step: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        idx = torch.randint(0, len(codes), (bs,), generator=gen)
        end = torch.randint(window, length + 1, (1,), generator=gen).item()
        start = max(0, end - window - rf)  # start 0: the zero padding is the silence before the clip
        scored = window if start > 0 else end  # from the clip start every position is exact
        return codes[idx, start:end].to(device), labels[idx], scored

    history, done, wall = fit(model, batch, lambda b: model.loss(*b), steps=steps, lr=rec["lr"],
                              log=log, log_every=25, minutes=rec["minutes"] if minutes is None else minutes)
    held_audio, held_labels = make_dataset(k, seed=seed + 1, sample_rate=cfg["sample_rate"],
                                           length=length, num_classes=k)
    metrics = {f"heldout_{key}": v for key, v in wavenet_bits_per_sample(model, held_audio, held_labels).items()}
    metrics["heldout_clips"] = len(held_audio)
    pitches = pitch_check(model, seed)
    measured = pitches.pop("measured", {})
    metrics.update(pitches)
    recipe = {"data": f"{len(codes)} procedural clips of {cfg['clip_seconds']} s at {cfg['sample_rate']} Hz "
                      f"(seed {seed}): " + ", ".join(LABELS[:k]) + "; 8-bit mu-law",
              "objective": "next-sample cross-entropy over 256 mu-law codes, label as global condition",
              "optimizer": f"Adam lr {rec['lr']:g}, cosine decay, grad-norm clip 1",
              "batch_size": bs, "window": window, "receptive_field": rf, "steps": done,
              "epochs": round(done / per_epoch, 2), "seed": seed,
              "sampled_tone_pitches": ", ".join(f"{k}: {v} Hz" for k, v in measured.items()),
              "device": f"{device}, {torch.get_num_threads()} threads"}
    return model, _report("wavenet", cfg, recipe, history, wall, metrics, "train_bits_per_sample")
