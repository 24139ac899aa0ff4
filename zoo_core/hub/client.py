"""Pull, locate, verify and remove model files in the standard Hugging Face cache.

Downloads go through ``huggingface_hub.hf_hub_download`` so the cache is the one every HF tool shares;
the zoo adds a sha256 check against the catalog (the client only checks sizes), a fast reachability
probe, a fallback to a local mirror served in-process, and one-line errors.
Everything reads the environment at call time; ``huggingface_hub`` is imported lazily (it is slow).
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import socket
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator
from urllib.parse import urlsplit

from ..errors import HubError, IntegrityError, NotPulledError
from .publish import tree_revision

if TYPE_CHECKING:
    from ..spec import ModelSpec

_TRUE = {"1", "ON", "YES", "TRUE"}
PROBE_TIMEOUT = 2.0
_HTTP_MODULES = ("httpx", "httpx2", "httpcore", "httpcore2")  # 1.x uses httpx, 2.x httpx2


def cache_dir() -> Path:
    """HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or Path("~/.cache/huggingface")
    return Path(home).expanduser() / "hub"


def endpoint() -> str:
    """HF_ENDPOINT or the public Hub."""
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def offline() -> bool:
    """True when HF_HUB_OFFLINE asks for no network at all."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in _TRUE


def mirror_dir() -> Path | None:
    """ZOO_MIRROR, else the ``hub/`` folder at the repo root when it exists."""
    if os.environ.get("ZOO_MIRROR"):
        return Path(os.environ["ZOO_MIRROR"]).expanduser()
    bundled = Path(__file__).resolve().parents[2] / "hub"
    return bundled if bundled.is_dir() else None


def sha256_file(path: str | os.PathLike[str]) -> str:
    """sha256 hex of a file, always read afresh."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _snapshot_dir(spec: "ModelSpec") -> Path:
    return cache_dir() / f"models--{spec.repo_id.replace('/', '--')}" / "snapshots" / spec.revision


def snapshot_path(spec: "ModelSpec") -> Path | None:
    """The cached snapshot folder if every file of the spec is there (no network, no hashing)."""
    snap = _snapshot_dir(spec)
    return snap if all((snap / name).exists() for name in spec.files) else None


def is_pulled(spec: "ModelSpec") -> bool:
    return snapshot_path(spec) is not None


def _hf() -> Any:
    """Import huggingface_hub with the zoo's defaults in place."""
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")  # else 2.x fetches /api/agent-harnesses
    import huggingface_hub
    from huggingface_hub import constants

    # Another library may have imported huggingface_hub before the default above was set.
    if os.environ["HF_HUB_DISABLE_TELEMETRY"].strip().upper() in _TRUE:
        constants.HF_HUB_DISABLE_TELEMETRY = True
    return huggingface_hub


@contextmanager
def _progress_bars(enabled: bool) -> Iterator[None]:
    from huggingface_hub.utils import (are_progress_bars_disabled, disable_progress_bars,
                                       enable_progress_bars)

    toggle = not enabled and not are_progress_bars_disabled()
    if toggle:
        disable_progress_bars()
    try:
        yield
    finally:
        if toggle:
            enable_progress_bars()


def _reachable(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """TCP-connect to the endpoint (or its proxy): seconds, not the client's ~23 s of retries."""
    from urllib.request import getproxies, proxy_bypass  # slow to import: only when pulling

    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    proxy = getproxies().get(parts.scheme) or getproxies().get("all")
    if proxy and not proxy_bypass(host):
        p = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = p.hostname or "", p.port or 80
    ok: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            ok.append(True)
        except (OSError, ValueError):
            pass

    # A thread bounds DNS too, which create_connection's timeout does not cover.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(ok)


class _NotThere(Exception):
    """The source answered that it lacks this repo, revision or file: try the next one."""


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def _names(e: BaseException) -> set[str]:
    return {c.__name__ for c in type(e).__mro__}


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0][:200]


def _explain(exc: BaseException, spec: "ModelSpec", fname: str, url: str) -> str:
    """One line for a failed hf_hub_download; raises _NotThere when the source lacks the file."""
    chain = _chain(exc)

    def find(test: Any) -> BaseException | None:
        return next((e for e in chain if test(e)), None)

    missing = {"RepositoryNotFoundError": f"no repo {spec.repo_id}",
               "RevisionNotFoundError": f"no revision {spec.revision[:12]} of {spec.repo_id}",
               "RemoteEntryNotFoundError": f"no file {fname} in {spec.repo_id}@{spec.revision[:12]}"}
    for cls, what in missing.items():
        if find(lambda e, c=cls: c in _names(e)):
            raise _NotThere(what)
    if find(lambda e: "OfflineModeIsEnabled" in _names(e)):
        return (f"cannot download {fname}: huggingface_hub is in offline mode "
                f"(HF_HUB_OFFLINE was set when it was imported)")
    if e := find(lambda e: isinstance(e, OSError) and "Consistency check failed" in str(e)):
        return f"download of {fname} from {url} was cut short ({_first_line(e)}); try again"
    if e := find(lambda e: type(e).__module__.split(".")[0] in _HTTP_MODULES):
        return (f"lost the connection to {url} while fetching {fname} "
                f"({type(e).__name__}: {_first_line(e)}); try again")
    if find(lambda e: "FileMetadataError" in _names(e)):
        return f"{url} does not answer like a Hugging Face hub for {fname}; check HF_ENDPOINT"
    if e := find(lambda e: "HfHubHTTPError" in _names(e)):
        status = getattr(getattr(e, "response", None), "status_code", "?")
        return (f"{url} answered HTTP {status} for {fname}; "
                f"try again later, or check HF_ENDPOINT and your token")
    if e := find(lambda e: isinstance(e, OSError) and e.errno is not None):
        return f"could not write {fname} into the cache {cache_dir()}: {e.strerror or _first_line(e)}"
    return f"pulling {fname} from {url} failed: {type(exc).__name__}: {_first_line(exc)}"


def _download(spec: "ModelSpec", pending: list[str], url: str, force: bool) -> None:
    """hf_hub_download each pending file from `url`, removing it from `pending` once cached."""
    hf = _hf()
    while pending:
        fname = pending[0]
        try:
            hf.hf_hub_download(spec.repo_id, fname, revision=spec.revision, cache_dir=str(cache_dir()),
                               endpoint=url, force_download=force)
        except Exception as exc:  # every client failure becomes one line
            raise HubError(_explain(exc, spec, fname, url)) from exc
        pending.pop(0)


def _purge(path: Path) -> None:
    """Delete a snapshot entry and the blob it points to, so nothing damaged stays cached."""
    blob = path.resolve() if path.is_symlink() else None
    path.unlink(missing_ok=True)
    if blob is not None and cache_dir().resolve() in blob.parents:
        blob.unlink(missing_ok=True)


def _check(spec: "ModelSpec", source: str, names: Iterable[str] | None = None) -> None:
    """sha256 cached files (all by default) against the catalog; purge and raise on a mismatch."""
    snap = _snapshot_dir(spec)
    for fname in spec.files if names is None else names:
        got, want = sha256_file(snap / fname), spec.files[fname]
        if got != want.sha256:
            _purge(snap / fname)
            raise IntegrityError(
                f"{spec.repo_id}/{fname} from {source} has sha256 {got[:12]}… but the catalog expects "
                f"{want.sha256[:12]}…; the bad copy was deleted: run the pull again, and if it recurs "
                f"report the mirror")


def pull(spec: "ModelSpec", *, force: bool = False, progress: bool = True) -> Path:
    """Make every file of `spec` present and verified in the cache; return the snapshot folder.

    Tries the endpoint, then the local mirror (served in-process). Files already cached are not
    fetched again unless `force`.
    """
    snap = _snapshot_dir(spec)
    present = [] if force else [f for f in spec.files if (snap / f).exists()]
    damaged = [f for f in present if sha256_file(snap / f) != spec.files[f].sha256]
    if damaged and offline():
        _check(spec, "the cache", damaged)  # purges and raises: nothing can replace it offline
    for fname in damaged:  # a damaged cached copy is fetched again, not trusted
        _purge(snap / fname)
    pending = [f for f in spec.files if f not in present or f in damaged]
    if not pending:
        return snap
    if offline():
        raise NotPulledError(
            f"{spec.name} is not (fully) in the cache {cache_dir()} and HF_HUB_OFFLINE is set: "
            f"run `zoo pull {spec.name}` with HF_HUB_OFFLINE unset first")
    _hf()
    url, tried, fetch = endpoint(), [], list(pending)
    with _progress_bars(progress):
        if _reachable(url):
            try:
                _download(spec, pending, url, force)
                _check(spec, url, fetch)
                return snap
            except _NotThere as e:
                tried.append(f"{url} has {e}")
        else:
            tried.append(f"{url} is unreachable")
        if source := _from_mirror(spec, pending, force, tried):
            _check(spec, source, fetch)
            return snap
    raise HubError(
        f"cannot pull {spec.name} ({spec.repo_id}@{spec.revision[:12]}): {'; '.join(tried)}. "
        f"Set HF_ENDPOINT to a hub that has it, run `zoo hub serve` over a mirror, "
        f"or check the revision in the catalog")


def _from_mirror(spec: "ModelSpec", pending: list[str], force: bool, tried: list[str]) -> str | None:
    """Fetch `pending` from the local mirror via an in-process HubServer, if it has the revision.

    Returns a description of the source, or None (after noting why in `tried`).
    """
    mirror = mirror_dir()
    repo = mirror / spec.repo_id if mirror else None
    if repo is None or not repo.is_dir():
        tried.append(f"no local mirror has {spec.repo_id}" + (f" (looked in {mirror})" if mirror else ""))
        return None
    if (rev := tree_revision(repo)) != spec.revision:
        tried.append(f"the mirror {repo} is at revision {rev[:12]}, not {spec.revision[:12]}")
        return None
    from .server import HubServer  # http.server is slow to import: only when needed

    try:
        server = HubServer(mirror).start()
    except OSError as e:
        raise HubError(f"cannot serve the mirror {mirror} on 127.0.0.1: {e.strerror or e}") from e
    try:
        _download(spec, pending, server.url, force)
    except _NotThere as e:  # the mirror changed under us; unlikely
        tried.append(f"the mirror {repo} has {e}")
        return None
    finally:
        server.stop()
    return f"the mirror {repo}"


def verify(spec: "ModelSpec") -> list[str]:
    """Re-hash the cached files of `spec`; the problems found, or [] if all is well."""
    snap, problems = _snapshot_dir(spec), []
    for fname, want in spec.files.items():
        path = snap / fname
        if not path.exists():
            problems.append(f"{fname}: missing from {snap}")
            continue
        try:
            got = sha256_file(path)
        except OSError as e:
            problems.append(f"{fname}: cannot be read ({e.strerror or e})")
            continue
        if got != want.sha256:
            problems.append(f"{fname}: sha256 {got[:12]}… but the catalog expects "
                            f"{want.sha256[:12]}…")
    return problems


def _scan() -> Any:
    if not cache_dir().is_dir():
        return None
    _hf()
    from huggingface_hub import scan_cache_dir

    try:
        return scan_cache_dir(cache_dir())
    except Exception as e:  # CorruptedCacheException, permissions: one line, as everywhere
        raise HubError(f"cannot read the cache {cache_dir()}: {_first_line(e)}") from e


def remove(spec: "ModelSpec") -> int:
    """Delete this revision of the repo from the cache; return the bytes freed."""
    info = _scan()
    repos = frozenset(r for r in (info.repos if info else ())
                      if r.repo_id == spec.repo_id and r.repo_type == "model"
                      and any(v.commit_hash == spec.revision for v in r.revisions))
    if not repos:
        return 0
    # Content-addressed revisions can be shared by two repos with equal files: keep the others.
    strategy = dataclasses.replace(info, repos=repos).delete_revisions(spec.revision)
    freed = int(strategy.expected_freed_size)
    strategy.execute()
    return freed


def cached_repos() -> list[dict[str, Any]]:
    """Model repos in the cache: repo_id, revisions, size on disk, path (for ``zoo cache ls``)."""
    info = _scan()
    if info is None:
        return []
    return [{"repo_id": r.repo_id, "repo_type": r.repo_type,
             "revisions": sorted(rev.commit_hash for rev in r.revisions),
             "size": r.size_on_disk, "nb_files": r.nb_files, "path": str(r.repo_path)}
            for r in sorted(info.repos, key=lambda r: (r.repo_type, r.repo_id))]
