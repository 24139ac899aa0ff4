"""Training of the attentional text-to-image families (AttnGAN, MirrorGAN): ``train_attentional``
(the alternating D / G loop with the family's own generator term plugged in, generator weight
averaging, snapshot selection and batch-norm recalibration), the DAMSM text side and the recipe.
Their data and caption-accuracy checks are in ``attn_shapes``, their report in ``attn_report``."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from ..errors import BadInputError
from ..training_state import load_training_state, save_training_state
from .attn_discriminators import discriminator_loss, generator_adversarial_loss, make_discriminator
from .attn_stages import AttentionalT2I
from .attn_shapes import SOFTENED, ShapesBatches
from .aux_attributes import AttributeHead, check_aux_weights, pretrain_heads
from .conditioning import kl_loss
from .mode_seeking import first_rows, mode_seeking_loss, with_pairs
from .t2i_training import attribute_accuracy, load_damsm


def text_config_from(damsm: Any, cfg: dict[str, Any]) -> dict[str, Any]:
    """The generator's text side is the DAMSM's: same vocabulary, same encoder sizes."""
    te = damsm.text_encoder
    return {**cfg, "vocab": list(damsm.vocab.words), "max_words": damsm.max_words,
            "text_encoder": {"ninput": te.ninput, "nhidden": te.nef, "nlayers": te.nlayers,
                             "drop_prob": float(te.drop.p), "bidirectional": te.num_directions == 2,
                             "rnn_type": te.rnn_type}}


# -- the shared training loop -------------------------------------------------------------------
@torch.no_grad()
def recalibrate_batchnorm(model: AttentionalT2I, data: ShapesBatches, *, batches: int = 20,
                          batch_size: int = 64, seed: int = 0) -> None:
    """Recompute the generator's BN running statistics for its final (averaged) weights as exact
    means over fresh z and training captions; sampling runs in eval mode, so a sample never
    depends on the rest of its batch."""
    bns = [m for m in model.generator_modules().modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    gen = torch.Generator().manual_seed(seed)
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    was = model.training
    model.train()
    for _ in range(batches):
        b = data.batch(torch.randint(0, data.n, (batch_size,), generator=gen), gen)
        text = model.encode_ids(b["ids"], b["lens"])
        model.generate(torch.randn(batch_size, model.z_dim, generator=gen), text,
                       eps=torch.randn(batch_size, model.c_dim, generator=gen))
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.train(was)


def setup_attentional(cls: type, cfg: dict[str, Any], *, damsm: Any, seed: int,
                      threads: int | None, device: str | torch.device = "cpu") -> tuple[Any, Any]:
    """(generator, DAMSM): threads and seed set, the DAMSM loaded (default: the published one)
    and the generator built around its frozen text encoder and vocabulary, both on ``device``."""
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    damsm = load_damsm(damsm)
    model = cls(**text_config_from(damsm, cfg))
    model.use_text_encoder(damsm)
    return model.to(device), damsm.to(device)


def with_sizes(cfg: dict[str, Any], r_num: int | None = None, ndf: int | None = None,
               ngf: int | None = None) -> dict[str, Any]:
    """The generator config with ``r_num`` residual blocks per next stage, stages ``ngf`` wide and
    discriminators ``ndf`` wide (each unchanged if None). ``ndf`` only sizes training's
    discriminators."""
    sizes = {"r_num": r_num, "ndf": ndf, "ngf": ngf}
    for key, value in sizes.items():
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise BadInputError(f"{key} must be a whole number of at least 1, got {value!r}")
    return {**cfg, **{k: v for k, v in sizes.items() if v is not None}}


# recipe values that count something, with the least each may be
COUNTS = {"batch_size": 1, "d_warmup": 0, "d_aux_pretrain": 0}
# weights of terms that are off by default: 0 turns one off again
MAY_BE_ZERO = {"mode_seeking", "d_aux", "g_aux", "damsm_first"}
FLAGS = {"soften", "damsm_soften"}  # true / false


def recipe_with(hp: dict[str, Any], batch_size: int | None, **overrides: float | None) -> dict[str, Any]:
    """The recipe with a batch size (a GPU run takes larger ones) and any other recipe values
    (``damsm_lambda=50``, ``lr_d=1e-4``) asked for on the command line; None leaves one as is."""
    asked = {"batch_size": batch_size, **overrides}
    unknown = sorted(k for k in asked if k not in hp)
    if unknown:
        raise BadInputError(f"this recipe has no {', '.join(unknown)}; it has {', '.join(sorted(hp))}")
    for key, value in asked.items():
        if value is None:
            continue
        if key in FLAGS:
            if not isinstance(value, bool):
                raise BadInputError(f"{key} must be true or false, not {value!r}")
        elif key in COUNTS:
            if not isinstance(value, int) or isinstance(value, bool) or value < COUNTS[key]:
                raise BadInputError(f"{key} must be a whole number of at least {COUNTS[key]}, not {value!r}")
        elif not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0 or (
                value == 0 and key not in MAY_BE_ZERO):
            least = "zero or more" if key in MAY_BE_ZERO else "a positive number"
            raise BadInputError(f"{key} must be {least}, not {value!r}")
    cast = {**dict.fromkeys(FLAGS, bool), **dict.fromkeys(COUNTS, int)}
    return {**hp, **{k: cast.get(k, float)(v) for k, v in asked.items() if v is not None}}


TWIN_NEGATIVES_D = "shape-twin captions as extra mismatched pairs for every discriminator"


def with_twin_negatives(hp: dict[str, Any], asked: str | None, choices: dict[str, str | None],
                        kinds: str | None = None) -> dict[str, Any]:
    """The recipe with the shape-twin hard-negative setting asked for (a deviation from the
    papers, "none" unless asked): ``choices`` maps each setting a family offers to what it adds;
    ``kinds`` which twins give them (``attn_shapes.twin_kinds``; default shape twins)."""
    from .attn_shapes import twin_kinds

    setting = hp.get("twin_negatives", "none") if asked is None else asked
    if setting not in choices:
        raise BadInputError(f"twin_negatives must be one of {', '.join(choices)}, not {asked!r}")
    if kinds is not None and setting == "none":
        raise BadInputError("twin_kinds needs twin_negatives (e.g. -K twin_negatives=d)")
    return {**hp, "twin_negatives": setting, "twin_kinds": ",".join(twin_kinds(kinds))}


def twin_note(choices: dict[str, str | None], hp: dict[str, Any]) -> str | None:
    """The report's line on hard negatives: what the setting adds and, unless only shape twins,
    which twins give them."""
    note = choices[hp["twin_negatives"]]
    if note is None or hp["twin_kinds"] == "shape":
        return note
    return f"{note.replace('shape-twin captions', 'twin captions', 1)}; twins: {hp['twin_kinds']}"


def run_length(hp: dict[str, Any], n_images: int, *, epochs: int | None, steps: int | None,
               max_steps: int | None, minutes: float | None) -> tuple[int | None, float | None]:
    """(steps, minutes) bounding a run: epochs, then steps / max_steps, then the recipe's; the
    recipe's wall-clock cap applies unless a step count was asked for and the recipe has none."""
    if epochs is not None:
        steps = epochs * (n_images // hp["batch_size"])
    steps = steps if steps is not None else max_steps if max_steps is not None else hp["steps"]
    minutes = minutes if minutes is not None else (None if steps is not None and hp["minutes"] is None else hp["minutes"])
    return steps, minutes


def train_attentional(model: AttentionalT2I, data: ShapesBatches, *, extra_loss: Any, steps: int | None = None,
                      minutes: float | None = None, batch_size: int = 32, lr_g: float = 2e-4, lr_d: float = 2e-4,
                      betas: tuple[float, float] = (0.5, 0.999), kl_weight: float = 1.0, ema: float = 0.999,
                      seed: int = 0, evaluate: Any = None, eval_every: int = 0, log_every: int = 50,
                      bn_batches: int = 20, disc_state: str | None = None, twin_negatives: bool = False,
                      keep_best: bool = False, mode_seeking: float = 0.0, d_warmup: int = 0,
                      d_aux: float = 0.0, g_aux: float = 0.0, d_aux_pretrain: int = 0,
                      soften: bool = False, log: Any = print) -> dict[str, Any]:
    """Alternate D and G updates as the originals' trainers do, for ``steps`` updates or until
    ``minutes`` of wall time have passed (whichever comes first).

    ``extra_loss(model, out, batch, text) -> (loss, stats)`` adds the family's own generator
    term (AttnGAN: lambda * DAMSM; MirrorGAN: lambda * STREAM caption loss). The generator's
    parameters are averaged (EMA ``ema``, the originals' ``avg_param_G`` with 0.999) and the
    averaged weights are what the model holds at the end, with batch-norm statistics recomputed.
    ``evaluate(model) -> dict`` runs every ``eval_every`` steps (on the averaged weights).
    ``disc_state`` (a .safetensors file): the discriminators and both optimisers' moments start
    from it when it exists (G's only if they fit this generator) and are written to it at the
    end, so a later run continues this one.
    ``twin_negatives`` (``data`` built with twins): each batch's shape twin captions are
    encoded as ``batch["twin_text"]`` (for ``extra_loss``) and the discriminators also see
    real images paired with them as mismatched (``discriminator_loss``'s ``twin_sent``).
    ``keep_best``: the model ends with the averaged weights of the evaluation with the best mean
    attribute accuracy (``t2i_training.attribute_accuracy``), not the last ones; ``evaluate``
    should then score training captions. ``mode_seeking`` (a deviation, off by default): the
    weight of ``mode_seeking.mode_seeking_loss`` on pairs made of a quarter of each batch's
    captions drawn twice. ``d_warmup``: the first that many steps update only the
    discriminators, so fresh ones learn to judge a continued generator before it follows their
    gradients (the generator's parameters and their average stay as loaded; its batch-norm
    statistics are recomputed at the end in any case). ``d_aux`` / ``g_aux`` (deviations, off by
    default; ``data`` built with labels): each discriminator gets an ``aux_attributes`` head on
    its image code, trained with weight ``d_aux`` to read the real images' attributes; ``g_aux``
    weighs the generator's term asking those heads to read its images as their captions'
    attributes; ``d_aux_pretrain`` steps first train the trunks and heads on that alone
    (``aux_attributes.pretrain_heads``). ``soften`` (a deviation, off by default): the heads
    read the 64x64 stage's images softened (``blocks.soften``), real and generated, and
    ``keep_best`` ranks the checks by their softened scores (``evaluate`` built with
    ``softened=True``), so that fringes finer than two pixels neither satisfy the heads nor win
    the snapshot. Returns the training history and counters.
    """
    if steps is None and minutes is None:
        raise BadInputError("give steps or minutes")
    if keep_best and (evaluate is None or not eval_every):
        raise BadInputError("keep_best needs an evaluator run every eval_every steps")
    if twin_negatives and data.twin_ids is None:
        raise BadInputError("twin_negatives needs training data built with twins (shapes_data(..., twins=True))")
    check_aux_weights(d_aux, g_aux, d_aux_pretrain)
    if soften and not d_aux > 0:
        raise BadInputError("soften acts on the attribute heads: give d_aux too (e.g. -K d_aux=1)")
    if d_aux > 0 and data.labels is None:
        raise BadInputError("d_aux needs training data with attribute labels")
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    dev = model.device
    netsD = [make_discriminator(s, model.ndf, model.text_dim).to(dev) for s in model.sizes]
    g_params = model.generator_parameters()
    opt_g = torch.optim.Adam(g_params, lr=lr_g, betas=betas)
    opts_d = [torch.optim.Adam(d.parameters(), lr=lr_d, betas=betas) for d in netsD]
    heads = [AttributeHead(d.df_dim * 8 * 4 * 4).to(dev) for d in netsD] if d_aux > 0 else []
    opts_aux = [torch.optim.Adam(h.parameters(), lr=lr_d, betas=betas) for h in heads]
    avg = [p.detach().clone() for p in g_params]
    state_parts = ({**{f"netD{i}": d for i, d in enumerate(netsD)}, **{f"auxD{i}": h for i, h in enumerate(heads)}},
                   {"opt_g": opt_g, **{f"opt_d{i}": o for i, o in enumerate(opts_d)},
                    **{f"opt_aux{i}": o for i, o in enumerate(opts_aux)}})
    if disc_state is not None and Path(disc_state).exists():
        # a generator grown since (more residual blocks, MirrorGAN's GLAM from an AttnGAN) cannot
        # take the saved G moments; its discriminators still continue, and heads added since start fresh
        if load_training_state(disc_state, *state_parts, lenient=("opt_g",),
                               optional=[f"auxD{i}" for i in range(len(heads))]) and log:
            log(f"{disc_state}: the generator's optimiser moments do not fit this generator; they start fresh")

    if d_aux_pretrain:
        shape_hits = pretrain_heads(netsD, heads, [data.reals[s].to(dev) for s in model.sizes], data.labels.to(dev),
                                    d_aux_pretrain, seed=seed)
        if log:
            log(f"discriminators pretrained {d_aux_pretrain} steps on attributes; shape accuracy {shape_hits:.3f}")

    def swap_in_average() -> list[torch.Tensor]:
        backup = [p.detach().clone() for p in g_params]
        for p, a in zip(g_params, avg):
            p.data.copy_(a)
        return backup

    def restore(backup: list[torch.Tensor]) -> None:
        for p, b in zip(g_params, backup):
            p.data.copy_(b)

    history: list[dict[str, Any]] = []
    evals: list[dict[str, Any]] = []
    best: tuple[float, int, list[torch.Tensor]] | None = None
    sums: dict[str, float] = {}
    count = 0
    step = 0
    start = time.perf_counter()

    def account(stats: dict[str, float], step: int) -> int:
        """Count one finished step: log the running means, evaluate when due; the new step."""
        nonlocal sums, count, best
        for k, v in stats.items():
            sums[k] = sums.get(k, 0.0) + v
        count += 1
        step += 1
        if step % log_every == 0:
            row = {"step": step, **{k: round(v / count, 4) for k, v in sums.items()},
                   "seconds": round(time.perf_counter() - start, 1)}
            history.append(row)
            sums, count = {}, 0
            if log:
                log("  ".join(f"{k} {v}" for k, v in row.items()))
        if evaluate is not None and eval_every and step % eval_every == 0:
            backup = swap_in_average()
            model.eval()
            result = {"step": step, **evaluate(model)}
            model.train()
            restore(backup)
            evals.append(result)
            if log:
                log(f"eval {result}")
            if keep_best and soften and not any(k.startswith(SOFTENED) for k in result):
                raise BadInputError("soften ranks the checks by softened scores, and the evaluator gave none "
                                    "(build it with caption_accuracy_evaluator(softened=True))")
            score = attribute_accuracy(result, SOFTENED if soften else "")
            if keep_best and (best is None or score > best[0]):
                best = (score, step, [a.clone() for a in avg])
        return step
    model.train()
    for d in netsD:
        d.train()
    perm, pos = torch.randperm(data.n, generator=gen), 0
    while True:
        if steps is not None and step >= steps:
            break
        if minutes is not None and time.perf_counter() - start > minutes * 60:
            break
        if pos + batch_size > data.n:
            perm, pos = torch.randperm(data.n, generator=gen), 0
        idx = perm[pos:pos + batch_size]
        pos += batch_size
        b = data.batch(idx, gen)
        text = model.encode_ids(b["ids"], b["lens"])  # frozen encoder, no grad
        twin = model.encode_ids(b["twin_ids"], b["twin_lens"]) if twin_negatives else None
        b["twin_text"] = twin
        noise = torch.randn(len(idx), model.z_dim, generator=gen).to(dev)
        eps = torch.randn(len(idx), model.c_dim, generator=gen).to(dev)
        warming = step < d_warmup
        if warming:
            with torch.no_grad():
                out = model.generate(noise, text, eps=eps)
        elif mode_seeking > 0:  # a quarter of the captions again with new noise, for the pairs
            noise_all, eps_all, text_all = with_pairs(noise, eps, text, max(1, len(idx) // 4), gen)
            out_all = model.generate(noise_all, text_all, eps=eps_all)
            out = first_rows(out_all, len(idx))
        else:
            out = model.generate(noise, text, eps=eps)

        stats: dict[str, float] = {}
        loss_d_total = 0.0
        labels = None if b["labels"] is None else b["labels"].to(dev)
        for i, (netD, opt) in enumerate(zip(netsD, opts_d)):
            opt.zero_grad(set_to_none=True)
            aux = (heads[i], labels, d_aux) if heads else None
            if heads:
                opts_aux[i].zero_grad(set_to_none=True)
            loss_d, st = discriminator_loss(netD, b["reals"][i].to(dev), out.images[i], text.sentence,
                                            None if twin is None else twin.sentence, aux, aux_soften=soften)
            loss_d.backward()
            opt.step()
            if heads:
                opts_aux[i].step()
            loss_d_total += float(loss_d.detach())
            if i == len(netsD) - 1:
                stats.update(st)
        stats["loss_d"] = loss_d_total
        if warming:
            step = account(stats, step)
            continue

        for d in [*netsD, *heads]:
            d.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        adv = generator_adversarial_loss(netsD, out.images, text.sentence,
                                         (heads, labels, g_aux) if g_aux > 0 else None, aux_soften=soften)
        kl = kl_loss(out.mu, out.logvar)
        extra, extra_stats = extra_loss(model, out, b, text)
        loss_g = adv + kl_weight * kl + extra
        if mode_seeking > 0:
            ms = mode_seeking_loss(out_all.images[-1], noise_all, len(idx))
            loss_g = loss_g + mode_seeking * ms
            extra_stats = {**extra_stats, "ms": float(ms.detach())}
        loss_g.backward()
        opt_g.step()
        for d in [*netsD, *heads]:
            d.requires_grad_(True)
        with torch.no_grad():
            for p, a in zip(g_params, avg):
                a.mul_(ema).add_(p.detach(), alpha=1 - ema)
        stats.update({"loss_g": float(loss_g.detach()), "adv_g": float(adv.detach()), "kl": float(kl.detach()), **extra_stats})
        step = account(stats, step)
    wall = time.perf_counter() - start
    if disc_state is not None:
        save_training_state(disc_state, *state_parts)
    kept = None
    if best is not None:
        for a, b_ in zip(avg, best[2]):
            a.copy_(b_)
        kept = {"step": best[1], "attribute_accuracy": round(best[0], 4)}
    swap_in_average()
    recalibrate_batchnorm(model, data, batches=bn_batches, batch_size=min(64, data.n), seed=seed)
    model.eval()
    return {"history": history, "evals": evals, "steps": step, "wall_time_s": round(wall, 1),
            "discriminator_parameters": sum(p.numel() for d in netsD for p in d.parameters()), "kept": kept,
            "final": {k: v for k, v in (history[-1] if history else {}).items() if k not in ("step", "seconds")}}


def train_with_recipe(model: AttentionalT2I, data: ShapesBatches, extra_loss: Any, hp: dict[str, Any], *,
                      steps: int | None, minutes: float | None, seed: int, evaluate: Any,
                      eval_every: int | None, log: Callable[[str], None] | None,
                      disc_state: str | None = None,
                      final_evaluate: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``train_attentional`` with a recipe's batch size, learning rates, KL weight and averaging;
    returns (run, final metrics of ``final_evaluate`` (default ``evaluate``), with the prompts
    it used named)."""
    run = train_attentional(model, data, extra_loss=extra_loss, steps=steps, minutes=minutes,
                            batch_size=hp["batch_size"], lr_g=hp["lr_g"], lr_d=hp["lr_d"], kl_weight=hp["kl_weight"],
                            ema=hp["ema"], seed=seed, evaluate=evaluate,
                            eval_every=eval_every or (300 if evaluate else 0),
                            log_every=min(50, max(1, (steps or 50) // 2)), bn_batches=hp["bn_batches"],
                            disc_state=disc_state, twin_negatives=hp.get("twin_negatives", "none") != "none",
                            keep_best=bool(hp.get("keep_best")), mode_seeking=hp.get("mode_seeking", 0.0),
                            d_warmup=int(hp.get("d_warmup", 0)), d_aux=hp.get("d_aux", 0.0),
                            g_aux=hp.get("g_aux", 0.0), d_aux_pretrain=int(hp.get("d_aux_pretrain", 0)),
                            soften=bool(hp.get("soften")), log=log)
    metrics: dict[str, Any] = {}
    final_evaluate = final_evaluate if final_evaluate is not None else evaluate
    if final_evaluate is not None:
        metrics = dict(final_evaluate(model))
        metrics["caption_accuracy_prompts"] = getattr(final_evaluate, "prompts", "the trainer's evaluator")
    return run, metrics
