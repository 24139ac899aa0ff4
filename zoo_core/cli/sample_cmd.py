"""`zoo sample`: pull if needed, sample deterministically, write atomically."""
from __future__ import annotations

from pathlib import Path

import click

from .output import progress_bar, show_progress


DEFAULT_SUFFIX = {"image": ".png", "audio": ".wav"}


def parse_options(pairs: tuple[str, ...], extra: list[str]) -> dict[str, str]:
    """Sampler options from `-O key=value` and from extra `--key value` / `--flag` words."""
    from ..errors import BadInputError

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadInputError(f"sampler options are KEY=VALUE, got {pair!r}")
        options[key.strip().replace("-", "_")] = value.strip()
    i = 0
    while i < len(extra):
        word = extra[i]
        if not word.startswith("--") or len(word) == 2:
            raise BadInputError(f"unexpected argument {word!r}; sampler options look like --steps 50")
        key, sep, value = word[2:].partition("=")
        if not sep:
            if i + 1 < len(extra) and not extra[i + 1].startswith("--"):
                value, i = extra[i + 1], i + 1
            else:
                value = "true"  # a bare flag such as --attention
        options[key.replace("-", "_")] = value
        i += 1
    return options


def read_conditions(prompts: tuple[str, ...], prompt_file: Path | None,
                    labels: tuple[int, ...]) -> list | None:
    """Prompts (from --prompt and --prompt-file) or labels, as the model's conditions."""
    from ..errors import BadInputError

    texts = list(prompts)
    if prompt_file is not None:
        try:
            lines = prompt_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInputError(f"cannot read prompt file {str(prompt_file)!r}: {exc}") from None
        texts += [line.strip() for line in lines if line.strip()]
        if not texts:
            raise BadInputError(f"prompt file {str(prompt_file)!r} has no prompts")
    if texts and labels:
        raise BadInputError("give prompts or labels, not both")
    return texts or list(labels) or None


@click.command("sample", context_settings={"ignore_unknown_options": True,
                                           "allow_extra_args": True})
@click.argument("name")
@click.option("-n", "--num-samples", "n", type=int, default=16, show_default=True,
              help="How many samples.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="Sample i depends only on (seed, i).")
@click.option("--sampler", help="Sampler name (see `zoo info`); default: the family's first.")
@click.option("-O", "--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Sampler option, repeatable, e.g. -O threshold=0.7.")
@click.option("--prompt", "prompts", multiple=True, help="Text condition, repeatable.")
@click.option("--prompt-file", type=click.Path(path_type=Path), help="One prompt per line.")
@click.option("--label", "labels", type=int, multiple=True, help="Class label condition, repeatable.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N or mps.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="A .png grid (default NAME.png), .npz, .wav, .txt, or a folder for one file per sample.")
@click.option("--nrow", type=click.IntRange(1, 1024), default=None, help="Images per grid row.")
@click.option("--no-pull", is_flag=True, help="Fail instead of downloading missing weights.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or summary.")
@click.pass_context
def sample_command(ctx: click.Context, name: str, n: int, seed: int, sampler: str | None,
                   options: tuple[str, ...], prompts: tuple[str, ...], prompt_file: Path | None,
                   labels: tuple[int, ...], device: str, output: Path | None, nrow: int | None,
                   no_pull: bool, quiet: bool) -> None:
    """Draw samples from model NAME (a catalog name or a model folder).

    Sampler options go after `-O key=value` or as `--key value`, e.g. `--steps 50 --eta 0`.
    """
    from ..errors import BadInputError

    if n <= 0:
        raise BadInputError(f"-n must be a positive number of samples, got {n}")
    opts = parse_options(options, list(ctx.args))
    conditions = read_conditions(prompts, prompt_file, labels)
    from ..catalog import get_catalog
    from ..loading import is_model_dir

    stem = Path(name).name if is_model_dir(name) else get_catalog().resolve(name).arch

    from ..loading import load, parse_device
    from ..writers import output_mode

    parse_device(device)  # fail on a bad device before any download
    progress = show_progress(quiet)
    model = load(name, device=device, pull=not no_pull, progress=progress)
    to_stdout = output is None and model.kind in ("text", "sequence")  # text reads best inline
    if output is None and not to_stdout:
        output = Path(f"{stem}{DEFAULT_SUFFIX[model.kind]}")
    if output is not None:
        output_mode(output, model.kind)  # fail on an unwritable output before sampling
    strategy = model.get_sampler(sampler, **opts)
    with progress_bar(n, f"sampling {model.spec.name if model.spec else name}", progress) as bar:
        samples = model.sample(n, condition=conditions, sampler=strategy, generator=seed,
                               progress=bar.update)
    from ..writers import format_texts, write_extras, write_samples

    if to_stdout:
        click.echo(format_texts(samples))
        return
    written = write_samples(samples, output, nrow=nrow)
    extras = write_extras(samples, output)
    if not quiet:
        where = written[0] if len(written) == 1 else f"{output}/ ({len(written)} files)"
        click.echo(f"wrote {n} samples to {where}", err=True)
        for path in extras:
            click.echo(f"wrote {path} (a row per sample, a column per word)", err=True)
