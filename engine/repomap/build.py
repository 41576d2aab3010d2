"""``build_map``: the repository map of a folder, from its files to the text an agent reads.

List the files (``files``), take each one's tags from the cache or parse it (``cache``,
``parse``), rank (``rank``), cut to the budget (``render``). Files are parsed in worker
processes when there are many (a first map of a large repository); a warm map reads only the
cache and parses nothing.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import InputError
from engine.repomap.cache import TAGS_VERSION, Entry, TagCache, content_hash, decode, encode
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
#: Part of the key of a kept map: changes whenever the ranking or the rendering does, so a map
#: kept by an older version is not served.
MAP_VERSION = "2"


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
    a scratch copy passes its project's).

    A map asked again of the same files (by content) with the same focus and budget is the
    cache's copy: a warm map lists and stats the files and reads nothing else."""
    started = time.monotonic()
    if not MIN_TOKENS <= tokens <= MAX_TOKENS:
        raise RepoMapError(f"tokens: {tokens} is out of bounds ({MIN_TOKENS} to {MAX_TOKENS})")
    top = os.path.realpath(root)
    if not os.path.isdir(top):
        raise RepoMapError(f"{root}: no such folder")
    listing = source_files(top)
    wanted = [path for path in dict.fromkeys(_relative(top, f) for f in focus) if path is not None]
    store = TagCache((cache_dir or default_cache_dir(top)) if cache else None)
    try:
        survey = _survey(top, listing.files, store)
        key = _result_key(survey, wanted, tokens)
        kept = store.result(key)
        if kept is not None:
            parsed, cached = 0, len(survey.digests)
            if survey.changed:  # new times (a scratch copy), same content: record them for next time
                store.save(top, [(path, f.size, f.mtime_ns, digest) for path, (f, digest) in survey.digests.items()],
                           {})
        else:
            tags, skipped, parsed, cached = _tags(top, survey, store)
            ranking = rank(tags, wanted)
            text, files = fit(ranking.entries, tags, tokens)
            kept = {"text": text, "files": files, "skipped": sorted(skipped), "ranks": ranking.files,
                    "focus": [p for p in wanted if p in tags],
                    "definitions": sum(len(t.definitions) for t in tags.values())}
            store.save_result(key, kept)
    finally:
        store.close()
    skipped = sorted([*listing.skipped, *(tuple(item) for item in kept["skipped"])])
    stats = MapStats(files=len(listing.files), parsed=parsed, cached=cached, hashed=survey.read,
                     skipped=len(skipped), definitions=kept["definitions"], tokens=estimate_tokens(kept["text"]),
                     took=round(time.monotonic() - started, 3), cache=store.problem or ("on" if cache else "off"))
    return RepoMap(top, kept["text"], list(kept["files"]), skipped, stats, list(kept["focus"]), dict(kept["ranks"]))


def _relative(top: str, path: str) -> str | None:
    """A focus path as the map names files (relative, '/'), or None when it leads outside."""
    full = os.path.normpath(os.path.join(top, path))
    if full != top and not full.startswith(top + os.sep):
        return None
    return os.path.relpath(full, top).replace(os.sep, "/")


@dataclass
class Survey:
    """What the files are now: each one's content hash (from the cache when its size and time
    are the ones recorded, else read and hashed). The text is not kept: a file to parse is read
    again where it is parsed, so a first map of a large repository never holds it all."""

    digests: dict[str, tuple[SourceFile, str]] = field(default_factory=dict)  # path -> (file, hash)
    read: int = 0  # files read and hashed
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    changed: bool = False  # the cache's record of the root's paths must be written anew


def _read(top: str, f: SourceFile) -> bytes:
    with open(os.path.join(top, f.path), "rb") as handle:
        return handle.read(MAX_READ)


def _survey(top: str, files: list[SourceFile], store: TagCache) -> Survey:
    known = store.known(top)
    survey = Survey(changed=len(known) != len(files))
    for f in files:
        hit = known.get(f.path)
        if hit is not None and hit[0] == f.size and hit[1] == f.mtime_ns:
            survey.digests[f.path] = (f, hit[2])
            continue
        try:
            data = _read(top, f)
        except OSError as exc:
            survey.unreadable.append((f.path, f"not readable: {exc.strerror or exc}"))
            continue
        survey.digests[f.path] = (f, content_hash(data, f.language))
        survey.read += 1
        survey.changed = True
    return survey


def _result_key(survey: Survey, focus: list[str], tokens: int) -> str:
    """What a map depends on: every file's path and content, the focus, the budget and the
    version of what a file's tags hold."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{TAGS_VERSION}\0{MAP_VERSION}\0{tokens}\0{chr(1).join(focus)}\0".encode())
    for path in sorted(survey.digests):
        digest.update(f"{path}\0{survey.digests[path][1]}\n".encode("utf-8", "surrogateescape"))
    for path, why in survey.unreadable:
        digest.update(f"{path}\0!{why}\n".encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _tags(top: str, survey: Survey, store: TagCache) -> tuple[dict[str, FileTags], list[tuple[str, str]], int, int]:
    """Every file's tags: from the cache by content hash, else parsed. Returns the tags, the
    skipped files, and how many were parsed and taken from the cache."""
    found = store.by_hash(list({digest for _, digest in survey.digests.values()}))
    entries: dict[str, Entry] = dict(survey.unreadable)
    todo: list[tuple[SourceFile, str]] = []
    cached = 0
    for path, (f, digest) in survey.digests.items():
        text = found.get(digest)
        if text is not None:
            entries[path] = decode(text)
            cached += 1
        else:
            todo.append((f, digest))
    fresh: dict[str, str] = {}
    for (f, digest), entry in zip(todo, _parse_all([(os.path.join(top, f.path), f.language) for f, _ in todo]),
                                  strict=True):
        entries[f.path] = entry
        if isinstance(entry, FileTags) or not entry.startswith("not readable"):
            fresh[digest] = encode(entry)  # a file unreadable now is tried again next time
    if survey.changed or fresh:
        rows = [(path, f.size, f.mtime_ns, digest) for path, (f, digest) in survey.digests.items()]
        store.save(top, rows, fresh)
    tags = {path: entry for path, entry in entries.items() if isinstance(entry, FileTags)}
    skipped = [(path, entry) for path, entry in entries.items() if isinstance(entry, str)]
    return tags, skipped, len(todo), cached


MAX_READ = 1024 * 1024 + 1  # one byte more than a file may have, so a larger one is seen as such


def _parse_one(item: tuple[str, str]) -> Entry:
    """The tags of the file at a path (read here: in a worker process, when there is one)."""
    path, language = item
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_READ)
    except OSError as exc:
        return f"not readable: {exc.strerror or exc}"
    try:
        return read_tags(language, data)
    except Unparsable as exc:
        return str(exc)
    except (ValueError, RecursionError) as exc:  # a grammar's own failure on strange text
        return f"not parsed: {type(exc).__name__}: {exc}"


def _parse_all(items: list[tuple[str, str]]) -> list[Entry]:
    """Each file parsed, in order: in worker processes when there are many and CPUs to spare."""
    workers = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 8)
    if len(items) < POOL_THRESHOLD or workers < 2:
        return [_parse_one(item) for item in items]
    import multiprocessing

    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(_parse_one, items, chunksize=POOL_CHUNK))
