"""Reading a unified diff as hostile input before git sees it, and checking it against the tree
it would be written into.

A patch comes from a tool or a model, so ``read_patch`` (and ``inspect_patch``, its file list)
trusts nothing and touches no disk. In order:

1. a size limit, before anything else is spent on the input;
2. a line scan proving that every hunk holds exactly the lines its header announces. git stops
   reading a hunk at the announced count and skips what follows, so a header that lies shows a
   reviewer lines git never applies (or hides ones it does). unidiff also stops at the count
   and files the rest away as "patch info" without a word, so the scan is ours. It also
   collects every mode line and binary marker, however they are spaced, as a backstop for the
   per-file checks below, and refuses the header lines on which unidiff's patterns backtrack
   quadratically (``diff --git`` headers must carry a/ and b/ names);
3. ``unidiff``, through ``engine.patches.diffs`` (the one reader of the format), for the file
   list, names, modes and line counts;
4. every name the diff mentions (old and new side, rename and copy sources and targets) must be
   a plain relative path: not absolute, no ``..``, no empty or ``.`` component, no control
   character, no backslash, and no ``.git`` component as git's ``verify_path`` sees one on
   NTFS and HFS+ too (``.GIT``, ``.git.``, ``.git ``, ``git~1``, ``.g\\u200cit``), so no nested
   repository either, and no top-level ``.gitmodules`` (git reads no other);
5. only regular files: symlinks (120000) and submodules (160000) are refused on either side,
   binary changes unless the caller allows them.

``check_against_tree`` then looks at the real tree. git itself refuses to write beyond a
symlink; we refuse earlier and more broadly: a symlink anywhere on a target's path, even one
that points inside the repository, a parent that resolves outside the repository, and a
target that resolves into ``.git``.

    InputError (engine.errors, exit code 2)
    └── PatchRefused      ``reason`` says why, ``path`` which file (None when not one file)
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from unidiff.constants import RE_DIFF_GIT_HEADER
from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchedFile

from engine.errors import InputError
from engine.patches.diffs import DEV_NULL, read, split_lines

MAX_PATCH_BYTES = 10 * 1024 * 1024
REGULAR_MODES = frozenset({"100644", "100755"})
SYMLINK_MODE = "120000"
SUBMODULE_MODE = "160000"

MAX_BINARY_LINE = 4096
_HUNK_HEADER = re.compile(r"@@ -(\d{1,10})(?:,(\d{1,10}))? \+(\d{1,10})(?:,(\d{1,10}))? @@")
# The first word after the keyword, however spaced or followed, as git's strtoul would find
# it; possessive quantifiers so a hostile line costs linear time.
_MODE_LINE = re.compile(r"(?:old mode|new mode|new file mode|deleted file mode) \s*+(\S*+)")
_INDEX_MODE_LINE = re.compile(r"index [0-9a-fA-F]++\.\.[0-9a-fA-F]++ \s*+(\S*+)")
_HFS_IGNORABLE = re.compile("[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]")
_DRIVE = re.compile(r"[A-Za-z]:")
_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


class PatchRefused(InputError):
    """A patch that will not be written, and why. Nothing has been written when it is raised."""

    def __init__(self, reason: str, path: str | None = None) -> None:
        self.reason = reason
        self.path = path
        super().__init__(f"refused: {reason}")


@dataclass(frozen=True)
class PatchFile:
    """One file a patch touches. ``path`` is the new path (the old one for a deletion);
    ``old_path`` is set for renames and copies only."""

    path: str
    old_path: str | None
    status: str
    added: int
    removed: int
    binary: bool
    old_mode: str | None
    new_mode: str | None

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path,) if self.old_path is None else (self.old_path, self.path)


@dataclass(frozen=True)
class InspectedPatch:
    """What ``read_patch`` learned: the files, the ``-p`` level git must read the names with
    (1 when they carry ``a/`` and ``b/``, 0 when bare), and the bytes to hand git."""

    files: list[PatchFile]
    strip: int
    data: bytes

    @property
    def paths(self) -> list[str]:
        return sorted({path for file in self.files for path in file.paths})


def inspect_patch(diff: str, *, allow_binary: bool = False,
                  max_bytes: int = MAX_PATCH_BYTES) -> list[PatchFile]:
    """The files ``diff`` touches, with line counts; PatchRefused if anything about it is unsafe."""
    return read_patch(diff, allow_binary=allow_binary, max_bytes=max_bytes).files


def read_patch(diff: str, *, allow_binary: bool = False,
               max_bytes: int = MAX_PATCH_BYTES) -> InspectedPatch:
    """``inspect_patch`` plus what applying needs: the ``-p`` level and the bytes for git."""
    _check_size(diff, max_bytes)
    if not diff.strip():
        raise PatchRefused("no changes: the diff is empty")
    try:
        data = diff.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError as exc:
        raise PatchRefused(f"malformed diff: not encodable as UTF-8 ({exc.reason})") from exc
    modes, binary_line = _scan(split_lines(diff))
    try:
        patch_set = read(diff)
    except (UnidiffParseError, ValueError) as exc:
        raise PatchRefused(f"malformed diff: {_show(str(exc).strip())}") from exc
    if not patch_set:
        raise PatchRefused("malformed diff: no file headers (--- / +++ or diff --git) found")
    names = [_raw_names(patched) for patched in patch_set]
    strip = _strip_level(names)
    files = [_patch_file(patched, raw, strip) for patched, raw in zip(patch_set, names, strict=True)]
    for file in files:
        _check_modes(file.old_mode, file.new_mode, file.path)
        if file.binary and not allow_binary:
            raise PatchRefused(f"binary change to '{_show(file.path)}' (binary patches are not allowed here)",
                               path=file.path)
    for line_number, mode in modes:
        _check_modes(mode, None, None, where=f" on line {line_number}")
    if binary_line is not None and not allow_binary:
        raise PatchRefused(f"binary change on line {binary_line} (binary patches are not allowed here)")
    return InspectedPatch(files=files, strip=strip, data=data)


def check_path(path: str) -> None:
    """Refuse a name that is not a plain relative path inside the repository."""
    shown = _show(path)
    if not path:
        raise PatchRefused("a file in the diff has an empty name")
    if any(ord(char) < 32 or ord(char) == 127 for char in path):
        raise PatchRefused(f"path '{shown}' contains a control character", path=path)
    if any(0xD800 <= ord(char) <= 0xDFFF for char in path):
        raise PatchRefused(f"path '{shown}' is not valid UTF-8", path=path)
    if "\\" in path:
        raise PatchRefused(f"path '{shown}' contains a backslash", path=path)
    if path.startswith("/") or _DRIVE.match(path):
        raise PatchRefused(f"path '{shown}' is absolute", path=path)
    parts = path.split("/")
    if ".." in parts:
        raise PatchRefused(f"path '{shown}' leaves the repository", path=path)
    if any(part in ("", ".") for part in parts):
        raise PatchRefused(f"path '{shown}' is not a normalized relative path", path=path)
    if any(_is_dot_git(part) for part in parts):
        raise PatchRefused(f"path '{shown}' writes inside .git", path=path)
    if len(parts) == 1 and _is_gitmodules(path):
        raise PatchRefused(f"path '{shown}' is the repository's .gitmodules; submodules are not allowed in patches",
                           path=path)


def check_against_tree(repo: Path, files: list[PatchFile]) -> None:
    """Refuse a patch that would write through a symlink, under a file, outside ``repo`` or into
    its ``.git``, judged against the tree as it is on disk now."""
    root = os.path.realpath(repo)
    git_dir = os.path.join(root, ".git")
    for file in files:
        for path in file.paths:
            _check_in_tree(root, git_dir, path)


def _check_in_tree(root: str, git_dir: str, path: str) -> None:
    shown = _show(path)
    parts = path.split("/")
    current = root
    for depth, part in enumerate(parts, 1):
        current = os.path.join(current, part)
        try:
            info = os.lstat(current)
        except OSError:
            break
        prefix = "/".join(parts[:depth])
        if stat.S_ISLNK(info.st_mode):
            if depth == len(parts):
                raise PatchRefused(f"path '{shown}' is a symbolic link in the working tree", path=path)
            raise PatchRefused(f"path '{shown}' goes through the symbolic link '{_show(prefix)}'",
                               path=path)
        if depth < len(parts) and not stat.S_ISDIR(info.st_mode):
            raise PatchRefused(f"path '{shown}' needs '{_show(prefix)}' to be a directory, but it is a file",
                               path=path)
    parent = os.path.realpath(os.path.dirname(os.path.join(root, path)))
    if not _inside(parent, root):
        raise PatchRefused(f"path '{shown}' leaves the repository (its directory is {parent})", path=path)
    if _inside(os.path.realpath(os.path.join(root, path)), git_dir):
        raise PatchRefused(f"path '{shown}' writes inside .git", path=path)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _check_size(diff: str, max_bytes: int) -> None:
    # Characters never outnumber UTF-8 bytes, so a long string is refused without encoding it.
    size = len(diff)
    if size <= max_bytes:
        size = len(diff.encode("utf-8", errors="surrogatepass"))
    if size > max_bytes:
        raise PatchRefused(f"the diff is larger than the limit of {max_bytes:,} bytes")


def _scan(lines: list[str]) -> tuple[list[tuple[int, str]], int | None]:
    """Prove hunk bodies match their headers; return every mode seen (line number, mode) and the
    line of the first binary marker. Before the first file header (a mail's message and
    diffstat) anything goes; after it, a line that looks like hunk content must be in a hunk."""
    modes: list[tuple[int, str]] = []
    binary_line: int | None = None
    in_files = False
    index = 0
    while index < len(lines):
        line = lines[index]
        if "\0" in line:
            raise PatchRefused(f"the diff contains a NUL byte on line {index + 1}")
        _check_header_shape(line, index)
        if line.startswith("diff -") or _file_header_at(lines, index):
            in_files = True
        if not in_files:
            index += 1
            continue
        if line.startswith("@@"):
            index = _skip_hunk(lines, index)
            continue
        found = _MODE_LINE.match(line) or _INDEX_MODE_LINE.match(line)
        if found:
            modes.append((index + 1, found.group(1)))
        if binary_line is None and (line == "GIT binary patch" or line.startswith("Binary files ")):
            binary_line = index + 1
        if line[:1] in ("+", "-", " ") and not _file_header_at(lines, index) and line != "-- ":
            raise PatchRefused(f"malformed diff: line {index + 1} looks like hunk content but is in no hunk")
        index += 1
    return modes, binary_line


def _check_header_shape(line: str, index: int) -> None:
    """Refuse the header lines on which unidiff's patterns backtrack quadratically (a 100 kB
    ``Binary files`` line that does not end in ``differ`` takes it half a minute), before
    unidiff sees them: a ``diff --git`` line must have the a/ b/ shape its first pattern takes
    in linear time, and a ``Binary files`` line must be short, tab-free and complete."""
    if line.startswith("diff --git ") and not RE_DIFF_GIT_HEADER.match(line):
        raise PatchRefused(f"malformed diff: line {index + 1} is a 'diff --git' header without a/ and b/ names")
    if line.startswith("Binary file") and (len(line) > MAX_BINARY_LINE or "\t" in line
                                           or not line.endswith((" differ", " has changed"))):
        raise PatchRefused(f"malformed diff: line {index + 1} is not a well-formed 'Binary files ... differ' line")


def _skip_hunk(lines: list[str], start: int) -> int:
    """The index just past the hunk whose header is at ``start``, after counting its body."""
    header = _HUNK_HEADER.match(lines[start])
    if header is None:
        raise PatchRefused(f"malformed diff: bad hunk header on line {start + 1}")
    old = int(header.group(2)) if header.group(2) is not None else 1
    new = int(header.group(4)) if header.group(4) is not None else 1
    said = f"the hunk header on line {start + 1} announces {old} old and {new} new lines"
    index = start + 1
    while old > 0 or new > 0:
        if index >= len(lines):
            raise PatchRefused(f"{said}, but the diff ends first")
        line = lines[index]
        if "\0" in line:
            raise PatchRefused(f"the diff contains a NUL byte on line {index + 1}")
        tag = line[:1]
        if tag in (" ", ""):
            old, new = old - 1, new - 1
        elif tag == "-":
            old -= 1
        elif tag == "+":
            new -= 1
        elif tag != "\\":
            raise PatchRefused(f"{said}, but line {index + 1} ends it early")
        if old < 0 or new < 0:
            raise PatchRefused(f"{said}, but its body has more (line {index + 1})")
        index += 1
    while index < len(lines) and lines[index].startswith("\\"):
        index += 1
    if (index < len(lines) and lines[index][:1] in ("+", "-", " ")
            and not _file_header_at(lines, index) and lines[index] != "-- "):
        raise PatchRefused(f"{said}, but its body goes on (line {index + 1})")
    return index


def _file_header_at(lines: list[str], index: int) -> bool:
    """A ``--- old`` / ``+++ new`` pair starts or continues at ``index``."""
    line = lines[index]
    if line.startswith("--- "):
        return index + 1 < len(lines) and lines[index + 1].startswith("+++ ")
    if line.startswith("+++ "):
        return index > 0 and lines[index - 1].startswith("--- ")
    return False


@dataclass(frozen=True)
class _RawNames:
    source: str
    target: str
    extended: dict[str, str]


def _raw_names(patched: PatchedFile) -> _RawNames:
    extended: dict[str, str] = {}
    for line in patched.patch_info or []:
        for key in ("rename from", "rename to", "copy from", "copy to"):
            if line.startswith(key + " "):
                extended[key] = _unquote(line[len(key) + 1:].rstrip("\n"))
    return _RawNames(_unquote(patched.source_file or ""), _unquote(patched.target_file or ""), extended)


def _strip_level(names: list[_RawNames]) -> int:
    prefixed = [name.source.startswith("a/") for name in names if name.source != DEV_NULL]
    prefixed += [name.target.startswith("b/") for name in names if name.target != DEV_NULL]
    if not prefixed:
        raise PatchRefused("malformed diff: a file has /dev/null on both sides")
    if all(prefixed):
        return 1
    if not any(prefixed):
        return 0
    raise PatchRefused("malformed diff: some file names carry the a/ and b/ prefixes and some do not")


def _patch_file(patched: PatchedFile, raw: _RawNames, strip: int) -> PatchFile:
    def strip_name(name: str) -> str | None:
        if name == DEV_NULL:
            return None
        return name[2:] if strip else name

    old, new = strip_name(raw.source), strip_name(raw.target)
    for name in (old, new, *raw.extended.values()):
        if name is not None:
            check_path(name)
    status = "modified"
    for kind, label in (("copy", "copied"), ("rename", "renamed")):
        source, target = raw.extended.get(f"{kind} from"), raw.extended.get(f"{kind} to")
        if source is None and target is None:
            continue
        if source is None or target is None:
            raise PatchRefused(f"malformed diff: '{kind} from' without '{kind} to' (or the reverse)")
        for said, header in ((source, old), (target, new)):
            if header != said:
                raise PatchRefused(f"malformed diff: '{kind}' names '{_show(said)}' but the header "
                                   f"names '{_show(header or DEV_NULL)}'", path=said)
        status = label
    if status == "modified":
        if old is None and new is None:
            raise PatchRefused("malformed diff: a file has /dev/null on both sides")
        if old is None:
            status = "added"
        elif new is None:
            status = "deleted"
        elif old != new and _has_git_header(patched):
            status = "renamed"
        elif not len(patched) and not patched.is_binary_file and patched.source_mode != patched.target_mode:
            status = "mode"
    path = new if new is not None else old
    assert path is not None
    return PatchFile(
        path=path,
        old_path=old if status in ("renamed", "copied") else None,
        status=status,
        added=patched.added,
        removed=patched.removed,
        binary=patched.is_binary_file,
        old_mode=patched.source_mode,
        new_mode=patched.target_mode,
    )


def _has_git_header(patched: PatchedFile) -> bool:
    """A plain ``---``/``+++`` diff naming two files is an edit of the one git picks (which
    ``gitapply`` confirms), not a rename: only git headers carry renames."""
    return bool(patched.patch_info) and patched.patch_info[0].startswith("diff --git ")


def _check_modes(old: str | None, new: str | None, path: str | None, where: str = "") -> None:
    subject = f"'{_show(path)}'" if path is not None else "a file"
    for mode in (old, new):
        if mode is None or mode in REGULAR_MODES:
            continue
        if mode == SYMLINK_MODE:
            reason = f"{subject} is a symbolic link (mode 120000){where}; symlinks are not allowed in patches"
        elif mode == SUBMODULE_MODE:
            reason = f"{subject} is a submodule (mode 160000){where}; submodules are not allowed in patches"
        else:
            reason = f"{subject} has file mode '{_show(mode)}'{where}; only 100644 and 100755 are allowed"
        raise PatchRefused(reason, path=path)


def _is_dot_git(part: str) -> bool:
    """Whether git (with core.protectNTFS and core.protectHFS, as on Windows and macOS) would
    take this path component for ``.git``."""
    name = _HFS_IGNORABLE.sub("", part).split(":", 1)[0].rstrip(" .").lower()
    return name in (".git", "git~1")


def _is_gitmodules(part: str) -> bool:
    """Whether git would read this top-level name as ``.gitmodules`` (where submodules' URLs
    and paths come from; NTFS also knows it as ``gitmod~1``)."""
    name = _HFS_IGNORABLE.sub("", part).split(":", 1)[0].rstrip(" .").lower()
    return name == ".gitmodules" or re.fullmatch(r"gitmod~\d", name) is not None


def _unquote(name: str) -> str:
    """A name as git wrote it: C-style quoted (``"a/tab\\there"``, octal escapes for bytes)
    when it holds unusual characters, verbatim otherwise."""
    if len(name) < 2 or not (name.startswith('"') and name.endswith('"')):
        return name
    body, out, index = name[1:-1], bytearray(), 0
    while index < len(body):
        char = body[index]
        if char == '"':
            raise PatchRefused(f"malformed diff: bad quoting in file name {_show(name)}")
        if char != "\\":
            out += char.encode("utf-8", errors="surrogateescape")
            index += 1
            continue
        escape = body[index + 1:index + 2]
        octal = body[index + 1:index + 4]
        if escape in _C_ESCAPES:
            out.append(_C_ESCAPES[escape])
            index += 2
        elif re.fullmatch("[0-3][0-7]{2}", octal):
            out.append(int(octal, 8))
            index += 4
        else:
            raise PatchRefused(f"malformed diff: bad escape in file name {_show(name)}")
    return out.decode("utf-8", errors="surrogateescape")


def _show(text: str, limit: int = 200) -> str:
    """``text`` safe to print: control characters and invalid bytes escaped, and cut short."""
    shown = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text[:limit])
    return shown + ("…" if len(text) > limit else "")
