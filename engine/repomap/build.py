"""``build_map``: the repository map of a folder, from its files to the text an agent reads.

List the files (``files``), take each one's tags from the cache or parse it (``cache``,
``parse``), rank (``rank``), cut to the budget (``render``). Files are parsed in worker
processes when there are many (a first map of a large repository); a warm map reads only the
cache and parses nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import InputError
from engine.repomap.cache import Entry, TagCache, content_hash, decode, encode
from engine.repomap.files import SourceFile, source_files
from engine.repomap.parse import FileTags, Unparsable, read_tags
from engine.repomap.rank import rank
from engine.repomap.render import estimate_tokens, fit

DEFAULT_TOKENS = 2048
MIN_TOKENS, MAX_TOKENS = 256, 65536
#: Below this many files to parse, worker processes cost more than they save.
POOL_THRESHOLD = 200
POOL_CHUNK = 64
CACHE_DIR = Path(".uet") / "cache" / "repomap"


class RepoMapError(InputError):
    """The map cannot be made of what was asked: a missing folder, a budget out of bounds."""


@dataclass(frozen=True)
class MapStats:
    files: int  # source files considered
    parsed: int  # read with tree-sitter this time
    cached: int  # taken from the cache
    hashed: int  # read and hashed: not found in the cache by path, size and time
    skipped: int
    definitions: int  # in the whole repository
    tokens: int  # the text's estimate
    took: float  # seconds
    cache: str  # "on", "off", or "off: why"

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class RepoMap:
    root: str
    text: str
    files: list[str]  # the files in the text, best first
    skipped: list[tuple[str, str]]  # (path, why) of the files the map could not read
    stats: MapStats
    focus: list[str] = field(default_factory=list)  # the focus files the map found
    ranks: dict[str, float] = field(default_factory=dict)  # every mapped file's PageRank


def default_cache_dir(project: Path | str) -> Path:
    return Path(project) / CACHE_DIR


def build_map(root: Path | str, *, focus: Iterable[str] = (), tokens: int = DEFAULT_TOKENS,
              cache: bool = True, cache_dir: Path | str | None = None) -> RepoMap:
    """The map of ``root``. ``focus``: paths relative to ``root`` that the map is weighted toward
    (others are ignored); ``cache_dir``: where tags are kept (default ``root/.uet/cache/repomap``;
    a scratch copy passes its project's)."""
    started = time.monotonic()
    if not MIN_TOKENS <= tokens <= MAX_TOKENS:
        raise RepoMapError(f"tokens: {tokens} is out of bounds ({MIN_TOKENS} to {MAX_TOKENS})")
    top = os.path.realpath(root)
    if not os.path.isdir(top):
        raise RepoMapError(f"{root}: no such folder")
    listing = source_files(top)
    store = TagCache((cache_dir or default_cache_dir(top)) if cache else None)
    try:
        tags, skipped, parsed, cached, hashed = _tags(top, listing.files, store)
    finally:
        store.close()
    skipped = listing.skipped + skipped
    wanted = [path for path in dict.fromkeys(_relative(top, f) for f in focus) if path is not None]
    ranking = rank(tags, wanted)
    text, files = fit(ranking.entries, tags, tokens)
    stats = MapStats(files=len(listing.files), parsed=parsed, cached=cached, hashed=hashed, skipped=len(skipped),
                     definitions=sum(len(t.definitions) for t in tags.values()), tokens=estimate_tokens(text),
                     took=round(time.monotonic() - started, 3),
                     cache=store.problem or ("on" if cache else "off"))
    return RepoMap(top, text, files, sorted(skipped), stats, [p for p in wanted if p in tags], ranking.files)


def _relative(top: str, path: str) -> str | None:
    """A focus path as the map names files (relative, '/'), or None when it leads outside."""
    full = os.path.normpath(os.path.join(top, path))
    if full != top and not full.startswith(top + os.sep):
        return None
    return os.path.relpath(full, top).replace(os.sep, "/")


def _tags(top: str, files: list[SourceFile], store: TagCache
          ) -> tuple[dict[str, FileTags], list[tuple[str, str]], int, int, int]:
    """Every file's tags: from the cache by path and stat, else by content hash, else parsed.
    Returns the tags, the skipped files, and how many were parsed, taken from the cache, and
    read to be hashed."""
    known = store.known(top)
    entries: dict[str, Entry] = {}
    rows: list[tuple[str, int, int, str]] = []  # every readable file: (path, size, mtime_ns, hash)
    unknown: list[tuple[SourceFile, str, bytes]] = []  # read and hashed, not in the cache by path
    cached = 0
    for f in files:
        hit = known.get(f.path)
        if hit is not None and hit[0] == f.size and hit[1] == f.mtime_ns:
            entries[f.path] = decode(hit[3])
            rows.append((f.path, f.size, f.mtime_ns, hit[2]))
            cached += 1
            continue
        try:
            with open(os.path.join(top, f.path), "rb") as handle:
                data = handle.read(MAX_READ)
        except OSError as exc:
            entries[f.path] = f"not readable: {exc.strerror or exc}"
            continue
        digest = content_hash(data, f.language)
        rows.append((f.path, f.size, f.mtime_ns, digest))
        unknown.append((f, digest, data))
    found = store.by_hash([digest for _, digest, _ in unknown])
    fresh: dict[str, str] = {}
    todo: list[tuple[SourceFile, str, bytes]] = []
    for f, digest, data in unknown:
        if digest in found:
            entries[f.path] = decode(found[digest])
            cached += 1
        else:
            todo.append((f, digest, data))
    for (f, digest, _), entry in zip(todo, _parse_all([(f.language, data) for f, _, data in todo]), strict=True):
        entries[f.path] = entry
        fresh[digest] = encode(entry)
    if unknown or len(known) != len(rows):  # something changed: the root's paths are written anew
        store.save(top, rows, fresh)
    tags = {path: entry for path, entry in entries.items() if isinstance(entry, FileTags)}
    skipped = [(path, entry) for path, entry in entries.items() if isinstance(entry, str)]
    return tags, skipped, len(todo), cached, len(unknown)


MAX_READ = 1024 * 1024 + 1  # one byte more than a file may have, so a larger one is seen as such


def _parse_one(item: tuple[str, bytes]) -> Entry:
    language, data = item
    try:
        return read_tags(language, data)
    except Unparsable as exc:
        return str(exc)
    except (ValueError, RecursionError) as exc:  # a grammar's own failure on strange text
        return f"not parsed: {type(exc).__name__}: {exc}"


def _parse_all(items: list[tuple[str, bytes]]) -> list[Entry]:
    """Each file parsed, in order: in worker processes when there are many and CPUs to spare."""
    workers = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 8)
    if len(items) < POOL_THRESHOLD or workers < 2:
        return [_parse_one(item) for item in items]
    import multiprocessing

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_parse_one, items, chunksize=POOL_CHUNK))
