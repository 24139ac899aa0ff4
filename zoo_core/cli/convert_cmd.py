"""`zoo convert`: an original checkpoint -> a zoo model folder that `zoo sample DIR` accepts."""
from __future__ import annotations

from pathlib import Path

import click

from .sample_cmd import parse_options


@click.command("convert", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("family")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True, help="Model folder to write.")
@click.option("--force", is_flag=True, help="Replace a non-empty output folder.")
@click.option("-q", "--quiet", is_flag=True, help="No summary line.")
@click.pass_context
def convert_command(ctx: click.Context, family: str, checkpoint: Path, output: Path, force: bool, quiet: bool) -> None:
    """Convert an original CHECKPOINT of FAMILY (e.g. attngan netG.pth) into a zoo model folder.

    Family options follow, e.g. `--text-encoder text_encoder200.pth --captions captions.pickle
    --config paper-cub`; `zoo plugins` lists the families that have a converter.

    \b
    zoo convert attngan netG.pth --text-encoder text_encoder200.pth --captions captions.pickle -o attngan-cub
    zoo sample attngan-cub --prompt "this bird is red with a black beak" -o birds.png
    """
    from ..catalog import get_catalog
    from ..errors import BadInputError

    families = get_catalog().families
    if family not in families:
        raise BadInputError(f"unknown family {family!r}; families with a converter: "
                            f"{', '.join(sorted(n for n, f in families.items() if f.converter)) or 'none'}")
    record = families[family]
    if not record.converter:
        raise BadInputError(f"{family} has no converter for original checkpoints")
    if output.exists() and (not output.is_dir() or any(output.iterdir())) and not force:
        raise BadInputError(f"{output} exists and is not empty; choose another -o or pass --force")
    options = parse_options((), list(ctx.args))
    for key, value in options.items():
        if value == "true":
            continue
        if key in {"text_encoder", "captions", "image_encoder"} and not Path(value).is_file():
            raise BadInputError(f"--{key.replace('_', '-')} {value}: no such file")

    from ..convert import write_model_dir
    from ..lazy import import_object

    converter = import_object(record.converter)
    try:
        model = converter(checkpoint, **options)
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise BadInputError(f"{family} converter: {exc}".replace("convert() got an ", "")) from None
        raise
    written = write_model_dir(model, output, force=force)
    if not quiet:
        click.echo(f"wrote {written} ({model.num_parameters():,} parameters); try `zoo sample {written}`", err=True)
