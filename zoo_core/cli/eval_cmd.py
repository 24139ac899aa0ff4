"""`zoo eval`: score a model with offline metrics; record the protocol with the numbers."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from .output import print_json, print_table, show_progress, write_text_atomic

# how each metric key is shown, in order; keys a plugin adds follow
ORDER = ("fid", "kid", "kid_std", "isc", "isc_std", "prc_precision", "prc_recall", "prc_f_score",
         "prc_density", "prc_coverage", "nll_bits_per_dim", "nll_bits_per_dim_se", "nll_bound_bits_per_dim",
         "nll_bound_bits_per_dim_se", "memorization_near_copy_fraction", "memorization_near_copy_fraction_real",
         "memorization_nn_distance_ratio", "r_precision", "r_precision_std", "caption_accuracy")


@click.command("eval")
@click.argument("name")
@click.option("--metrics", default=None, metavar="LIST",
              help="Comma-separated: fid,kid,isc,prc,nll,memorization (and plugin metrics). "
                   "Default: every metric that applies to the model.")
@click.option("-n", "--num-samples", type=int, default=None,
              help="Samples to draw. Default: the size of the reference split (at most 10,000).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True,
              help="Seeds the samples and every random choice of the metrics.")
@click.option("--reference", default=None, metavar="DATASET[:SPLIT]",
              help="Real data to compare with. Default: the data set the catalog or the folder's card names, train split.")
@click.option("--feature-extractor", default=None, metavar="NAME",
              help="Default: the zoo's classifier for the data set (e.g. zoo-digits-classifier); "
                   "or inception-v3-compat with --feature-extractor-weights.")
@click.option("--feature-extractor-weights", type=click.Path(path_type=Path), default=None, metavar="PATH",
              help="Local weights: the Inception .pth file, or a zoo extractor model folder.")
@click.option("--sampler", default=None, help="Sampler name; default: the family's first.")
@click.option("-O", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Sampler option, repeatable, e.g. -O threshold=0.7.")
@click.option("--prompt", "prompts", multiple=True,
              help="Prompts for a text-to-image model, repeatable (default: the data set's test captions).")
@click.option("--label", "labels", type=int, multiple=True,
              help="Labels for a class-conditional model, repeatable (default: the test split's labels).")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N or mps.")
@click.option("--no-cache", is_flag=True, help="Recompute reference features instead of using the cache.")
@click.option("--no-pull", is_flag=True, help="Fail instead of downloading missing weights.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None, help="Write the report (JSON) here.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def eval_command(name: str, metrics: str | None, num_samples: int | None, seed: int, reference: str | None,
                 feature_extractor: str | None, feature_extractor_weights: Path | None, sampler: str | None,
                 options: tuple[str, ...], prompts: tuple[str, ...], labels: tuple[int, ...], device: str, no_cache: bool, no_pull: bool, as_json: bool, output: Path | None,
                 quiet: bool) -> None:
    """Score model NAME (a catalog name or a model folder) with offline metrics.

    \b
    zoo eval dcgan.digits --metrics fid,kid,isc,prc,memorization -n 1000
    zoo eval vae.digits --metrics nll --json
    zoo eval real:digits:test          the real-data floor (test split vs train split)
    """
    from ..errors import BadInputError
    from .sample_cmd import parse_options, read_conditions

    if num_samples is not None and num_samples <= 0:
        raise BadInputError(f"--num-samples must be a positive number, got {num_samples}")
    if output is not None and not output.parent.is_dir():
        raise BadInputError(f"cannot write {output}: {output.parent} is not a folder")
    if feature_extractor_weights is not None and not feature_extractor_weights.exists():
        raise BadInputError(f"--feature-extractor-weights {feature_extractor_weights} does not exist")
    progress = show_progress(quiet)

    from ..evaluation.runner import evaluate, parse_metrics

    parse_metrics(metrics)  # an empty list fails before anything loads
    target: Any = name
    if name.startswith("real:"):
        from ..evaluation.context import RealData

        dataset, _, split = name[len("real:"):].partition(":")
        target = RealData(dataset, split or "test")
        reference = reference or dataset
    report = evaluate(target, metrics, num_samples, seed, reference,
                      feature_extractor, str(feature_extractor_weights) if feature_extractor_weights else None,
                      device, progress, sampler=sampler, sampler_options=parse_options(options, []),
                      cache=not no_cache, pull=not no_pull, condition=read_conditions(prompts, None, labels))
    if output is not None:
        write_text_atomic(output, json.dumps(report, indent=2) + "\n")
    if as_json:
        print_json(report)
        return
    show_report(report, output)


def _fmt(v: float) -> str:
    return f"{v:.4g}" if abs(v) < 1000 else f"{v:.1f}"


def show_report(report: dict[str, Any], output: Path | None) -> None:
    m, p = report["metrics"], report["protocol"]
    keys = [k for k in ORDER if k in m] + [k for k in m if k not in ORDER and not k.startswith("memorization_")
                                            and k != "nll_examples"]
    print_table(["metric", "value"], [[k, _fmt(m[k])] for k in keys])
    ref = p.get("reference", {})
    ext = p.get("feature_extractor", {})
    lines = [f"model {p['model'].get('name')}, {p['num_samples']} samples, seed {p['seed']}"]
    if ref:
        lines.append(f"reference {ref['dataset']}:{ref['split']} ({ref['examples']} images, sha256 {ref['sha256'][:12]})")
    if ext:
        lines.append(f"extractor {ext['name']} (weights sha256 {ext['weights_sha256'][:12]}), "
                     f"resize: {p.get('images', {}).get('resize', '-')}")
    if p.get("conditions"):
        lines.append(f"conditions: {p['conditions']['source']} ({p['conditions']['count']})")
    for key, reason in (p.get("not_applicable") or {}).items():
        lines.append(f"not applicable: {key} ({reason})")
    for w in p.get("warnings") or []:
        lines.append(f"warning: {w}")
    lines.append(f"{p['device']}, {p['wall_time_s']:.1f}s; torch {p['versions']['torch']}, "
                 f"torch-fidelity {p['versions']['torch_fidelity']}, zoo {p['versions']['zoo']}")
    if output is not None:
        lines.append(f"report written to {output}")
    for line in lines:
        click.echo(line, err=True)
