"""GGUF files from a Hugging Face-compatible hub: ``livemind pull REPO[:FILE]`` and hub ids as an
expert's model.

Files are fetched with ``huggingface_hub``'s HTTP layer, so ``HF_ENDPOINT`` (a mirror or a
private hub), ``HF_TOKEN`` and ``HF_HUB_OFFLINE`` apply as in every Hugging Face tool, with its
progress bar and retries. They land in LiveMind's cache (``$LIVEMIND_CACHE``, default
``~/.cache/livemind``), under ``hub/OWNER/REPO/FILE``: a download stopped for any reason (a lost
connection, Ctrl-C, a killed process) keeps its ``.part`` file and the next ``livemind pull``
continues from its last byte — huggingface_hub's own cache restarts such downloads from zero. A
finished download is checked against the hub's sha256 for the file (the ETag of a file stored in
LFS) before it is moved into place; a mismatch deletes it and raises.

A hub id is ``owner/repo:file.gguf``, or ``owner/repo`` when the repository holds one GGUF file.
Resolving one as a model (``Expert(model="owner/repo:file.gguf")``) only looks in the cache: a
server does not start downloading gigabytes because of a config line; the error says which
``livemind pull`` brings the file.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from livemind.errors import ModelLoadError

_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def parse_hub_id(spec: str) -> tuple[str, str | None] | None:
    """(repo, file or None) when ``spec`` reads as a hub id, else None. The file must be a
    ``.gguf`` inside the repository (no ``..``, no absolute path)."""
    repo, _, filename = spec.partition(":")
    if not _REPO.match(repo) or ".." in repo:
        return None
    if not filename:
        return repo, None
    parts = filename.split("/")
    if not filename.endswith(".gguf") or filename.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return None
    return repo, filename


def _hub():
    try:
        import huggingface_hub
    except ImportError:
        raise ModelLoadError("hub", "huggingface_hub is not installed: pip install 'livemind[hub]'") from None
    return huggingface_hub


def _only_gguf(repo: str, revision: str | None) -> str:
    """The one GGUF file of ``repo``; several are an error that lists them."""
    hub = _hub()
    try:
        files = [f for f in hub.list_repo_files(repo, revision=revision) if f.endswith(".gguf")]
    except Exception as exc:
        raise ModelLoadError(repo, f"cannot list the repository: {type(exc).__name__}: {exc}") from None
    if len(files) == 1:
        return files[0]
    if not files:
        raise ModelLoadError(repo, "the repository has no .gguf file")
    shown = ", ".join(files[:12]) + (" …" if len(files) > 12 else "")
    raise ModelLoadError(repo, f"the repository has {len(files)} GGUF files; name one as {repo}:FILE ({shown})")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def cache_root() -> Path:
    """Where pulled files live: ``$LIVEMIND_CACHE/hub`` (default ``~/.cache/livemind/hub``)."""
    base = os.environ.get("LIVEMIND_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "livemind"
    return Path(base).expanduser() / "hub"


def pull(spec: str, *, revision: str | None = None, progress: bool = True) -> Path:
    """Downloads the GGUF file of hub id ``spec`` into the cache (continuing a partial download)
    and returns its path, verified against the hub's sha256. A file already in the cache is
    returned without touching the network (so also under ``HF_HUB_OFFLINE``); delete it to fetch
    a newer revision."""
    parsed = parse_hub_id(spec)
    if parsed is None:
        raise ModelLoadError(spec, "not a hub id: expected owner/repo or owner/repo:file.gguf")
    repo, filename = parsed
    hub = _hub()
    from huggingface_hub import constants
    from huggingface_hub.file_download import http_get
    from huggingface_hub.utils import build_hf_headers

    # A file in place is complete and verified (downloads finish under ``.part``): no network,
    # offline or not.
    try:
        return cached(spec)
    except ModelLoadError:
        if constants.HF_HUB_OFFLINE:
            raise ModelLoadError(spec, "HF_HUB_OFFLINE is set and the file is not in the cache "
                                       f"({cache_root()}): nothing can be downloaded") from None
    filename = filename or _only_gguf(repo, revision)
    dest = cache_root() / repo / filename
    part = dest.with_name(dest.name + ".part")
    where = f"{repo}:{filename}"
    try:
        if dest.is_file():          # the repository's one GGUF, named only now
            return dest
        meta = hub.get_hf_file_metadata(hub.hf_hub_url(repo, filename, revision=revision))
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not progress:
            hub.utils.disable_progress_bars()
        with open(part, "ab") as f:
            done = f.seek(0, os.SEEK_END)      # an append-mode file's position reads 0 until it is moved
            if meta.size is not None and done > meta.size:      # not this file's beginning: start over
                f.truncate(0)
                done = 0
            http_get(meta.location, f, resume_size=done, headers=build_hf_headers(), expected_size=meta.size,
                     displayed_filename=filename)
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(where, f"download failed: {type(exc).__name__}: {exc}"
                                    + (f" (the {part.stat().st_size} bytes so far are kept; pull again to continue)"
                                       if part.is_file() and part.stat().st_size else "")) from None
    finally:
        if not progress:
            hub.utils.enable_progress_bars()
    if meta.etag and _SHA256.match(meta.etag):       # an LFS file: its ETag is the content's sha256
        got = _sha256(part)
        if got != meta.etag:
            part.unlink(missing_ok=True)
            raise ModelLoadError(where, f"checksum mismatch: the hub says sha256 {meta.etag}, the download has "
                                        f"{got}; deleted, run the pull again")
    part.replace(dest)
    return dest


def cached(spec: str) -> Path:
    """The pulled file of hub id ``spec``, without touching the network."""
    repo, filename = parse_hub_id(spec) or (None, None)
    if repo is None:
        raise ModelLoadError(spec, "not a hub id")
    if filename is None:
        found = [p for p in pulled() if p[0] == repo]
        if len(found) == 1:
            return found[0][2]
        if len(found) > 1:
            raise ModelLoadError(spec, f"several GGUF files of {repo} are downloaded; name one as {repo}:FILE "
                                       f"({', '.join(f for _, f, _ in found)})")
    elif (cache_root() / repo / filename).is_file():
        return cache_root() / repo / filename
    raise ModelLoadError(spec, f"not downloaded; fetch it with: livemind pull {spec}")


def pulled() -> list[tuple[str, str, Path]]:
    """(repo, file, path) of every GGUF file pulled into the cache."""
    root = cache_root()
    out = []
    for path in root.glob("*/*/**/*.gguf"):
        rel = path.relative_to(root).parts
        out.append(("/".join(rel[:2]), "/".join(rel[2:]), path))
    return sorted(out)
