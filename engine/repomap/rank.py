"""Which files and definitions matter: a PageRank over the graph of definitions and references.

The graph has a node per file and a node per name that some file defines and another file
uses (a name used only in the file that defines it says nothing of how files depend on each
other). A file points at each name it uses, weighted by the square root of how often
(a hundred calls are not a hundred times one), and a name points at each file that defines it.
Rank flows from the files that use a name to the files that define it, so the files much used
by much-used files rank high. Linking through name nodes keeps the graph as large as the
references themselves: a name defined in many files and used in many others is not a
product of the two.

Names that say little weigh less: a private one (``_helper``), a single lower-case word
(``get``, ``close``, ``split``: every other class has one, and ``dict.get`` is called
everywhere) and one defined in many files (``__init__``) count a tenth. With focus files (the files a step names, the
files its patch touches) the random jump lands only on them, and their own references weigh
ten times more: what they use ranks above what is merely popular.

The graph and the PageRank are rustworkx's (Apache-2.0; a maintained graph library in Rust).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from engine.repomap.parse import Definition, FileTags

ALPHA = 0.85
GENERIC_DEFINERS = 5  # a name defined in more files than this is generic
QUIET = 0.1  # the weight of a private or generic name
FOCUS_REFERENCES = 10.0  # the weight of a focus file's references
#: Definitions nobody uses still rank, below all used ones, in the order of their files' ranks.
UNUSED = 1e-6
ONE_WORD = re.compile(r"[a-z][a-z0-9]*")


class Ranked(NamedTuple):
    """One entry of the map: a definition of a file, or (``definition`` None) a file alone."""

    score: float
    path: str
    definition: Definition | None


@dataclass(frozen=True)
class Ranking:
    files: dict[str, float]  # path -> rank, every file
    entries: list[Ranked]  # best first: definitions, then files without any


def rank(tags: Mapping[str, FileTags], focus: Collection[str] = ()) -> Ranking:
    import rustworkx

    paths = sorted(tags)
    index = {path: n for n, path in enumerate(paths)}
    definers: dict[str, list[str]] = {}
    for path in paths:
        for name in dict.fromkeys(d.name for d in tags[path].definitions):
            definers.setdefault(name, []).append(path)
    focused = {path for path in focus if path in index}

    graph = rustworkx.PyDiGraph(multigraph=False)
    graph.add_nodes_from(paths)
    name_node: dict[str, int] = {}
    weight: dict[str, float] = {}
    sole = {name: where[0] for name, where in definers.items() if len(where) == 1}
    edges: list[tuple[int, int, float]] = []
    for source, path in enumerate(paths):
        boost = FOCUS_REFERENCES if path in focused else 1.0
        references = tags[path].references
        for name in sorted(references.keys() & definers.keys()):  # defined somewhere; sorted: the same graph each time
            factor = weight.get(name)
            if factor is None:
                where = definers[name]
                factor = weight[name] = QUIET if (name.startswith("_") or len(where) > GENERIC_DEFINERS
                                                  or ONE_WORD.fullmatch(name)) else 1.0
            if sole.get(name) == path:  # a name used where it is defined says nothing of other files
                continue
            node = name_node.get(name)
            if node is None:
                node = name_node[name] = graph.add_node(name)
                edges.extend((node, index[definer], 1.0) for definer in definers[name])
            edges.append((source, node, boost * factor * math.sqrt(references[name])))
    graph.extend_from_weighted_edge_list(edges)
    if not paths:
        return Ranking({}, [])
    start = focused or set(paths)
    scores = rustworkx.pagerank(graph, alpha=ALPHA, weight_fn=float,
                                personalization={index[path]: 1.0 for path in start}, max_iter=200)
    files = {path: scores[index[path]] for path in paths}

    order: list[tuple[float, str, int, Definition | None]] = []
    for path in paths:
        shares: dict[str, float] = {}
        base = UNUSED * files[path]
        for d in tags[path].definitions:
            share = shares.get(d.name)
            if share is None:
                node = name_node.get(d.name)
                share = shares[d.name] = scores[node] / len(definers[d.name]) if node is not None else 0.0
            order.append((-(share + base), path, d.line, d))
        if not tags[path].definitions:
            order.append((-UNUSED * base, path, 0, None))
    order.sort(key=lambda item: item[:3])
    return Ranking(files, [Ranked(-score, path, d) for score, path, _, d in order])
