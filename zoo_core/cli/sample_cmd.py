"""`zoo sample`: pull if needed, sample deterministically, write atomically."""
from __future__ import annotations

from pathlib import Path

import click

from .output import progress_bar, show_progress


def parse_options(pairs: tuple[str, ...]) -> dict[str, str]:
    from ..errors import BadInputError

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadInputError(f"sampler options are KEY=VALUE, got {pair!r}")
        options[key.strip().replace("-", "_")] = value.strip()
    return options


@click.command("sample")
@click.argument("name")
@click.option("-n", "--num-samples", "n", type=int, default=16, show_default=True,
              help="How many samples.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="Sample i depends only on (seed, i).")
@click.option("--sampler", help="Sampler name (see `zoo info`); default: the family's first.")
@click.option("-O", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Sampler option, repeatable, e.g. -O threshold=0.7.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N or mps.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="A .png grid (default NAME.png), .npz, .wav, .txt, or a folder for one file per sample.")
@click.option("--nrow", type=click.IntRange(1, 1024), default=None, help="Images per grid row.")
@click.option("--no-pull", is_flag=True, help="Fail instead of downloading missing weights.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or summary.")
def sample_command(name: str, n: int, seed: int, sampler: str | None, options: tuple[str, ...],
                   device: str, output: Path | None, nrow: int | None, no_pull: bool,
                   quiet: bool) -> None:
    """Draw samples from model NAME (a catalog name or a model folder)."""
    from ..errors import BadInputError

    if n <= 0:
        raise BadInputError(f"-n must be a positive number of samples, got {n}")
    opts = parse_options(options)
    from ..catalog import get_catalog
    from ..loading import is_model_dir

    if output is None:
        stem = Path(name).name if is_model_dir(name) else get_catalog().resolve(name).arch
        output = Path(f"{stem}.png")

    from ..loading import load, parse_device
    from ..writers import output_mode

    parse_device(device)  # fail on a bad device before any download
    progress = show_progress(quiet)
    model = load(name, device=device, pull=not no_pull, progress=progress)
    output_mode(output, model.kind)  # fail on an unwritable output before sampling
    strategy = model.get_sampler(sampler, **opts)
    with progress_bar(n, f"sampling {model.spec.name if model.spec else name}", progress) as bar:
        samples = model.sample(n, sampler=strategy, generator=seed, progress=bar.update)
    from ..writers import write_samples

    written = write_samples(samples, output, nrow=nrow)
    if not quiet:
        where = written[0] if len(written) == 1 else f"{output}/ ({len(written)} files)"
        click.echo(f"wrote {n} samples to {where}", err=True)
