"""The dependency graph of managed images (pure): internal edges, cycles, cascade order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from graphlib import CycleError, TopologicalSorter


class GraphError(ValueError):
    """The dependency graph cannot be used: a cycle, or a managed parent with no state."""


class DependencyCycle(GraphError):
    """Managed images that build FROM each other in a loop; the message names the cycle."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__("dependency cycle (each is built FROM the next): " + " → ".join(cycle))


@dataclass(frozen=True)
class Edge:
    """`child` is built on `parent`; `parent` is a managed image name or an external tracked ref."""

    child: str
    parent: str
    internal: bool


@dataclass(frozen=True)
class DependencyGraph:
    parents: Mapping[str, tuple[str, ...]]
    """Managed image → managed parents (internal edges), sorted."""
    externals: Mapping[str, tuple[str, ...]]
    """Managed image → external tracked refs it uses directly, sorted."""

    @property
    def children(self) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {name: [] for name in self.parents}
        for child, parents in self.parents.items():
            for parent in parents:
                out.setdefault(parent, []).append(child)
        return {name: tuple(sorted(kids)) for name, kids in out.items()}

    def edges(self) -> list[Edge]:
        out = [Edge(c, p, True) for c, ps in self.parents.items() for p in ps]
        out += [Edge(c, e, False) for c, es in self.externals.items() for e in es]
        return sorted(out, key=lambda e: (e.child, not e.internal, e.parent))

    def topological_order(self) -> list[str]:
        """Managed images, parents before children; ties broken by name for determinism."""
        sorter = TopologicalSorter({name: set(ps) for name, ps in self.parents.items()})
        try:
            sorter.prepare()
        except CycleError as exc:
            raise DependencyCycle(list(exc.args[1])[::-1]) from None
        order: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            order.extend(ready)
            sorter.done(*ready)
        return order

    def ancestors(self, name: str) -> set[str]:
        seen: set[str] = set()
        stack = list(self.parents.get(name, ()))
        while stack:
            parent = stack.pop()
            if parent not in seen:
                seen.add(parent)
                stack.extend(self.parents.get(parent, ()))
        return seen

    def external_closure(self, name: str) -> set[str]:
        """Every external ref `name` depends on, directly or through managed parents."""
        refs = set(self.externals.get(name, ()))
        for ancestor in self.ancestors(name):
            refs.update(self.externals.get(ancestor, ()))
        return refs

    def effective_delays(self, delays: Mapping[str, timedelta]) -> dict[tuple[str, str], timedelta]:
        """(image, upstream ref) → the minimum age of that upstream's digest when the image is rebuilt onto
        it: the longest delay on any path, the image's own included (it cannot be rebuilt sooner than its
        parents, and its own delay holds even for a base it reaches only through them)."""
        out: dict[tuple[str, str], timedelta] = {}
        for name in self.topological_order():
            for ref in self.external_closure(name):
                inherited = [out[(p, ref)] for p in self.parents.get(name, ()) if (p, ref) in out]
                out[(name, ref)] = max([delays[name], *inherited])
        return out

    def gates_own_delay(self, name: str, ref: str, delays: Mapping[str, timedelta],
                        effective: Mapping[tuple[str, str], timedelta]) -> bool:
        """Whether `name` needs a soak gate at its own delay for `ref`: it uses `ref` directly, or its
        delay outlasts what every parent bringing `ref` already waited."""
        if ref in self.externals.get(name, ()):
            return True
        inherited = [effective[(p, ref)] for p in self.parents.get(name, ()) if (p, ref) in effective]
        return bool(inherited) and delays[name] > max(inherited)


def split_targets(name: str, targets: Iterable[tuple[str, bool]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """One image's (managed parents, external refs), each sorted and unique; raises DependencyCycle when
    the image is its own parent."""
    pairs = list(targets)
    if any(internal and t == name for t, internal in pairs):
        raise DependencyCycle([name, name])
    return (tuple(sorted({t for t, internal in pairs if internal})),
            tuple(sorted({t for t, internal in pairs if not internal})))


def build_graph(uses: Mapping[str, Iterable[tuple[str, bool]]]) -> DependencyGraph:
    """`uses`: managed name → (target, is_internal) pairs; raises DependencyCycle on a loop."""
    parents: dict[str, tuple[str, ...]] = {}
    externals: dict[str, tuple[str, ...]] = {}
    for name, targets in uses.items():
        parents[name], externals[name] = split_targets(name, targets)
    graph = DependencyGraph(parents, externals)
    graph.topological_order()
    return graph
