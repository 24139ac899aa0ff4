"""`zoo pull`, `zoo cache ...`, `zoo push`, `zoo hub serve`: files in and out of the hub."""
from __future__ import annotations

from pathlib import Path

import click

from .output import human_size, print_json, print_table, show_progress


def _resolve(name: str):
    from ..catalog import get_catalog

    return get_catalog().resolve(name)


@click.command("pull")
@click.argument("names", nargs=-1, required=True)
@click.option("--force", is_flag=True, help="Download again even if the files are cached.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or summary.")
def pull_command(names: tuple[str, ...], force: bool, quiet: bool) -> None:
    """Download and sha256-verify the files of one or more models."""
    from .. import hub

    specs = [_resolve(n) for n in names]  # every name checked before any download
    for spec in specs:
        if not force and hub.snapshot_path(spec) is not None and not hub.verify(spec):
            if not quiet:
                click.echo(f"{spec.name} is already pulled", err=True)
            continue
        path = hub.pull(spec, force=force, progress=show_progress(quiet))
        if not quiet:
            click.echo(f"pulled {spec.name} ({human_size(spec.total_size)}, verified) -> {path}",
                       err=True)


@click.group("cache")
def cache_group() -> None:
    """Inspect, verify and clean the local model cache (the standard HF cache)."""


@cache_group.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def cache_ls(as_json: bool) -> None:
    """List cached model repos with their size on disk."""
    from .. import hub

    repos = hub.cached_repos()
    if as_json:
        print_json(repos)
        return
    if not repos:
        click.echo(f"the cache at {hub.cache_dir()} holds no models", err=True)
        return
    print_table(["repo", "revisions", "size", "path"],
                [[r["repo_id"], ",".join(x[:8] for x in r["revisions"]), human_size(r["size"]),
                  r["path"]] for r in repos])


@cache_group.command("verify")
@click.argument("names", nargs=-1)
def cache_verify(names: tuple[str, ...]) -> None:
    """Re-hash cached files against the catalog (all pulled models when no NAME)."""
    from .. import hub
    from ..catalog import get_catalog
    from ..errors import IntegrityError

    specs = [_resolve(n) for n in names] or [
        s for s in get_catalog().list() if hub.snapshot_path(s) is not None]
    bad = 0
    for spec in specs:
        problems = hub.verify(spec)
        if problems:
            bad += 1
            for p in problems:
                click.echo(f"{spec.name}: {p}")
        else:
            click.echo(f"{spec.name}: ok ({len(spec.files)} files)")
    if bad:
        raise IntegrityError(f"{bad} model(s) failed verification; run `zoo pull --force NAME`")


@cache_group.command("rm")
@click.argument("names", nargs=-1, required=True)
def cache_rm(names: tuple[str, ...]) -> None:
    """Remove models' pinned revisions from the cache."""
    from .. import hub

    for spec in [_resolve(n) for n in names]:
        freed = hub.remove(spec)
        click.echo(f"removed {spec.name} ({human_size(freed)} freed)", err=True)


@click.command("push")
@click.argument("source")
@click.option("--repo-id", required=True, help="Destination repo, ORG/NAME.")
@click.option("--endpoint", default=None, help="Hub URL (default: HF_ENDPOINT or huggingface.co).")
@click.option("--token", default=None, envvar="HF_TOKEN", help="Access token (default: HF_TOKEN).")
@click.option("--private", is_flag=True, help="Create the repo as private.")
def push_command(source: str, repo_id: str, endpoint: str | None, token: str | None,
                 private: bool) -> None:
    """Upload a model repo (a catalog NAME or a model folder) to a hub."""
    from ..hub.publish import push
    from ..loading import resolve_files

    folder, _spec = resolve_files(source, pull=True, progress=False)
    oid = push(Path(folder), repo_id, endpoint=endpoint, token=token, private=private)
    click.echo(f"pushed {source} to {repo_id} @ {oid}")


@click.group("hub")
def hub_group() -> None:
    """Serve model repos over the Hugging Face protocol (air-gapped sites)."""


@hub_group.command("serve")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path),
                required=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--allow-write", is_flag=True, help="Accept uploads (zoo push / upload_folder).")
@click.option("-v", "--verbose", is_flag=True, help="Log every request.")
def hub_serve(directory: Path | None, host: str, port: int, allow_write: bool, verbose: bool) -> None:
    """Serve DIRECTORY (default: the bundled mirror) as HF_ENDPOINT=http://HOST:PORT."""
    from ..errors import HubError
    from ..hub import client
    from ..hub.server import HubServer

    root = directory or client.mirror_dir()
    if root is None:
        raise HubError("no directory given and no bundled mirror found; pass DIRECTORY")
    try:
        server = HubServer(root, host=host, port=port, allow_write=allow_write, verbose=verbose)
    except OSError as exc:
        raise HubError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; try another --port") from None
    click.echo(f"serving {root} at {server.url}  (export HF_ENDPOINT={server.url}; Ctrl-C stops)",
               err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
