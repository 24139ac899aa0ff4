"""Train MirrorGAN on the shapes data set (Qiao et al. 2019, section 3.4):

    L_G = sum_i [ L_adv,cond(G_i) + L_adv,uncond(G_i) ] + lambda * L_stream + L_KL(CA)

STEM is the pretrained, frozen DAMSM text encoder (zoo-models/damsm-shapes). STREAM, the
captioner, is first trained on real images and their captions, then frozen; L_stream is its
caption cross-entropy on the last stage's generated images given the caption that produced
them (the original's ``caption_loss`` x LAMBDA1). The discriminators and the loop are
AttnGAN's (zoo_core.blocks.attn_stages).

``train(config, ...)`` returns ``(model, report)`` for scripts/train.py. With ``init_from`` (a
trained AttnGAN folder of the same sizes, or the recipe's ``init_from``) the generator starts
from that AttnGAN (MirrorGAN.load_attngan); a MirrorGAN folder continues that MirrorGAN. Either
may have fewer residual blocks per stage than this config: the missing ones start as the
identity. For the small config STREAM is read from runs/mirrorgan-stream when it was trained
before (else trained and saved there).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from zoo_core.blocks.attn_report import training_report
from zoo_core.blocks.attn_shapes import evaluators, shapes_data
from zoo_core.blocks.attn_training import (TWIN_NEGATIVES_D, recipe_with, run_length, setup_attentional,
                                           train_with_recipe, twin_note, with_sizes, with_twin_negatives)
from zoo_core.blocks.mode_seeking import objective_note
from zoo_core.blocks.t2i_training import damsm_name
from zoo_core.errors import BadInputError

from .config import STREAM as STREAM_CONFIGS
from .config import TRAINING, TRAINING_FOR, get_config
from .model import MirrorGAN
from .stream import STREAM, evaluate_stream, train_stream

ROOT = Path(__file__).resolve().parents[2]
# how each STREAM image trunk (``stream.CAPTION_CNN``) is described in the training report
STREAM_TRUNKS = {"damsm": "frozen DAMSM-shapes image trunk + trained linear/BN",
                 "conv": "convolutional trunk and linear/BN trained from scratch"}
TWIN_NEGATIVES = {"none": None, "d": TWIN_NEGATIVES_D}  # shape-twin hard negatives (not in the paper)


def stream_loss_term(stream: STREAM, lam: float) -> Callable:
    """MirrorGAN's generator term: lambda * caption cross-entropy of STREAM on the final images."""

    def extra(model: Any, out: Any, batch: dict[str, Any], text: Any):
        loss = stream.caption_loss(out.images[-1], batch["ids"].to(model.device), batch["lens"])
        return lam * loss, {"cap_loss": float(loss.detach())}

    return extra


def build_stream(name: str | dict[str, Any], vocab_size: int, max_words: int) -> STREAM:
    cfg = dict(STREAM_CONFIGS[name]) if isinstance(name, str) else dict(name)
    if cfg.pop("backbone", None):
        raise BadInputError("the paper's STREAM uses an ImageNet ResNet-152; train the small one here")
    return STREAM(vocab_size, max_words=max_words, **cfg)


def train(config: str | dict[str, Any] = "small", *, epochs: int | None = None, seed: int = 0,
          steps: int | None = None, minutes: float | None = None, max_steps: int | None = None,
          data: Any = None, damsm: Any = None, stream: STREAM | str | None = None, init_from: str | None = None,
          evaluate: Any = None, eval_every: int | None = None, threads: int | None = 1, device: str = "cpu", batch_size: int | None = None,
          disc_state: str | None = None, twin_negatives: str | None = None, keep_best: bool = False,
          caption_lambda: float | None = None, lr_g: float | None = None, lr_d: float | None = None,
          twin_kinds: str | None = None, r_num: int | None = None, mode_seeking: float | None = None,
          d_warmup: int | None = None, d_aux: float | None = None,
          g_aux: float | None = None, d_aux_pretrain: int | None = None, ndf: int | None = None,
          kl_weight: float | None = None, soften: bool | None = None,
          log: Callable[[str], None] | None = print) -> tuple[MirrorGAN, dict[str, Any]]:
    """Train a MirrorGAN generator on shapes (see the module docstring); ``disc_state``,
    ``device`` and ``batch_size`` as for AttnGAN's trainer; ``twin_negatives="d"`` (a deviation,
    default none) gives the discriminators shape-twin captions as extra mismatched pairs;
    ``keep_best`` and ``twin_kinds`` as for AttnGAN's; ``caption_lambda`` (STREAM's weight) and
    ``lr_g`` / ``lr_d`` replace the recipe's; ``r_num`` as for AttnGAN's (a continued generator's
    new residual blocks start as the identity), ``mode_seeking``, ``d_warmup``, ``ndf``, ``d_aux``,
    ``g_aux``, ``d_aux_pretrain``, ``kl_weight`` and ``soften`` as for AttnGAN's."""
    dataset = "shapes" if data is None else None  # what the saved card names
    damsm_asked = damsm
    name = config if isinstance(config, str) else "small"
    hp = dict(TRAINING_FOR.get(config, TRAINING)) if isinstance(config, str) else dict(TRAINING)
    hp = recipe_with(hp, batch_size, caption_lambda=caption_lambda, lr_g=lr_g, lr_d=lr_d,
                     mode_seeking=mode_seeking, d_warmup=d_warmup, d_aux=d_aux, g_aux=g_aux,
                     d_aux_pretrain=d_aux_pretrain, kl_weight=kl_weight, soften=soften)
    hp = with_twin_negatives(hp, twin_negatives, TWIN_NEGATIVES, twin_kinds)
    model, damsm = setup_attentional(MirrorGAN, with_sizes(get_config(config), r_num, ndf), damsm=damsm,
                                     seed=seed, threads=threads, device=device)
    batches = shapes_data(model, data, twins=hp["twin_negatives"] != "none", kinds=hp["twin_kinds"])

    # STREAM: trained on real pairs, then frozen
    stream_report: dict[str, Any] = {}
    stream_dir = ROOT / "runs" / "mirrorgan-stream"
    if isinstance(stream, str):
        stream = STREAM.load(stream)
    elif stream is None and name == "small" and (stream_dir / "stream.safetensors").exists():
        stream = STREAM.load(str(stream_dir))
        stream_report["source"] = "runs/mirrorgan-stream (trained earlier by this trainer)"
    if stream is None:
        stream = build_stream(name if name in STREAM_CONFIGS else "small", len(model.vocab), model.max_words)
        if stream.cnn.trunk == "damsm":
            stream.cnn.load_damsm_trunk(damsm.image_encoder)
        stream_report = train_stream(stream, batches, steps=hp["stream_steps"], batch_size=hp["stream_batch_size"],
                                     lr=hp["stream_lr"], seed=seed, log=log)
        if name == "small" and data is None:  # keep it for later runs (it is training state, not published)
            stream.save(str(stream_dir))
    stream.eval().requires_grad_(False)
    if name == "small" and data is None:
        stream_report.update(evaluate_stream(stream, model.vocab))
        if log:
            log(f"STREAM {stream_report}")
    stream.to(model.device)
    stream_report["parameters"] = sum(p.numel() for p in stream.parameters())
    stream_report["config"] = stream.config

    init_from = init_from if init_from is not None else hp["init_from"]
    started_from = None
    found = [p for p in (Path(init_from), ROOT / init_from) if (p / "model.safetensors").exists()] if init_from else []
    if found:
        from safetensors.torch import load_file

        state = load_file(str(found[0] / "model.safetensors"))
        if any(k.startswith("h_net") and k.endswith(".conv.weight") for k in state):  # GLAM: a MirrorGAN run
            model.load_growing(state)
            what = "MirrorGAN"
        else:
            model.load_attngan(state)
            what = "AttnGAN"
        model.use_text_encoder(damsm)  # the generator reads the text encoder of the DAMSM it trains against
        started_from = str(init_from)
        if log:
            log(f"generator initialised from the {what} in {init_from}")

    steps, minutes = run_length(hp, batches.n, epochs=epochs, steps=steps, max_steps=max_steps, minutes=minutes)
    evaluate, final_evaluate = evaluators(evaluate, by_default=name == "small" and isinstance(config, str),
                                          keep_best=keep_best, softened=hp["soften"])
    hp["keep_best"] = keep_best
    start_metrics = evaluate(model.eval()) if evaluate is not None and started_from else None
    run, metrics = train_with_recipe(model, batches, stream_loss_term(stream, hp["caption_lambda"]), hp,
                                     steps=steps, minutes=minutes, seed=seed, evaluate=evaluate,
                                     eval_every=eval_every, log=log, disc_state=disc_state,
                                     final_evaluate=final_evaluate)
    recipe = {
        "objective": f"adversarial (cond + uncond, every stage) + {hp['caption_lambda']:g} x STREAM caption "
                     f"cross-entropy (last stage) + {hp['kl_weight']:g} x KL(CA)" + objective_note(hp["mode_seeking"]),
        "hard_negatives": twin_note(TWIN_NEGATIVES, hp),
        "STEM": f"the DAMSM bi-LSTM text encoder of {damsm_name(damsm_asked)}, frozen",
        "STREAM": f"captioner: {STREAM_TRUNKS[stream.cnn.trunk]} + LSTM decoder, trained on real shapes pairs, "
                  f"then frozen: {stream_report}",
        "initialised_from": (f"the trained AttnGAN generator ({started_from}); fusion convs set to ignore "
                             f"the sentence context at the start" if started_from else "scratch"),
    }
    report = training_report("mirrorgan", model, batches, hp, run, metrics, recipe=recipe, dataset=dataset,
                             seed=seed, device=device, evals_before=[{"step": 0, **start_metrics}] if start_metrics else [],
                             extra_seconds=stream_report.get("wall_time_s", 0.0))
    return model.cpu(), report
