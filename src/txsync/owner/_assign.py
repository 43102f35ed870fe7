"""The assignment behind transfer linking: one optimal pairing over all candidates, ties reported.

Candidates form a bipartite graph (withdrawal halves, deposit halves) with an integer cost per edge
(how far apart the pair is in amount and time). Each connected component is solved on its own as a
maximum-cardinality matching of minimum total cost (networkx's exact blossom algorithm, which keeps
integer weights exact): as many pairs as possible, then the nearest ones. A pair is linked only when
every optimal matching contains it; pairs that some optimal matching leaves out (two equally good
partners) are reported as a tie, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_COMPONENT_EDGES", "Assignment", "Edge", "Node", "assign"]

#: A half: (transaction id, asset key).
Node = tuple[str, str]

#: A component with more candidate edges than this is not solved (the exact tie check re-solves it once
#: per chosen edge): its halves are reported for the user to link by hand.
MAX_COMPONENT_EDGES = 400


@dataclass(frozen=True, order=True)
class Edge:
    """A candidate pair: withdrawal half ``w``, deposit half ``d``, and the pair's cost (lower is nearer)."""

    w: Node
    d: Node
    cost: int


@dataclass
class Assignment:
    """The solved pairing: ``chosen`` pairs, ``ties`` (groups of edges equally good: left unlinked) and
    ``oversized`` components (lists of edges too many to solve)."""

    chosen: list[Edge] = field(default_factory=list)
    ties: list[list[Edge]] = field(default_factory=list)
    oversized: list[list[Edge]] = field(default_factory=list)


def _components(edges: Sequence[Edge]) -> list[list[Edge]]:
    parent: dict[Any, Any] = {}

    def find(x: Any) -> Any:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for e in edges:
        a, b = find(("w", e.w)), find(("d", e.d))
        if a != b:
            parent[a] = b
    groups: dict[Any, list[Edge]] = {}
    for e in edges:
        groups.setdefault(find(("w", e.w)), []).append(e)
    return [sorted(group, key=_order) for group in groups.values()]


def _order(e: Edge) -> tuple[str, str, int]:
    return (repr(e.w), repr(e.d), e.cost)


def _solve(edges: Sequence[Edge], top: int) -> tuple[int, int, list[Edge]]:
    """Max-cardinality, min-cost matching: (size, total weight, edges)."""
    import networkx as nx  # a well-kept exact matching implementation (pure Python)

    graph: nx.Graph[Any] = nx.Graph()
    for e in edges:
        graph.add_edge(("w", e.w), ("d", e.d), weight=top - e.cost, edge=e)
    matching = nx.max_weight_matching(graph, maxcardinality=True, weight="weight")
    chosen = [graph.edges[u, v]["edge"] for u, v in matching]
    return len(chosen), sum(top - e.cost for e in chosen), sorted(chosen, key=_order)


def assign(edges: Iterable[Edge]) -> Assignment:
    """Solve every connected component of the candidate graph (see the module docstring)."""
    result = Assignment()
    unique: dict[tuple[Node, Node], Edge] = {}
    for e in edges:
        known = unique.get((e.w, e.d))
        if known is None or e.cost < known.cost:
            unique[(e.w, e.d)] = e
    for component in _components(list(unique.values())):
        if len(component) == 1:
            result.chosen.append(component[0])
            continue
        if len(component) > MAX_COMPONENT_EDGES:
            result.oversized.append(component)
            continue
        top = max(e.cost for e in component) + 1
        size, weight, chosen = _solve(component, top)
        certain: list[Edge] = []
        tied: dict[Edge, None] = {}
        for e in chosen:
            others = [x for x in component if x is not e]
            size2, weight2, alternative = _solve(others, top)
            if (size2, weight2) == (size, weight):
                tied[e] = None
                for alt in alternative:
                    if alt not in chosen:
                        tied[alt] = None
            else:
                certain.append(e)
        result.chosen.extend(certain)
        if tied:
            result.ties.append(sorted(tied, key=_order))
    return result
