import pytest

from analyzer.graph import DependencyCycle, build_graph

PY = "docker.io/library/python:3.12-slim"


def test_order_parents_first_and_closure() -> None:
    graph = build_graph({
        "api": [("base", True), (PY, False)],
        "base": [(PY, False)],
        "worker": [("ml", True)],
        "ml": [("base", True)],
    })
    order = graph.topological_order()
    assert order.index("base") < order.index("ml") < order.index("worker")
    assert order.index("base") < order.index("api")
    assert graph.children["base"] == ("api", "ml")
    assert graph.external_closure("worker") == {PY}
    assert graph.ancestors("worker") == {"ml", "base"}


def test_edges_are_sorted_and_typed() -> None:
    graph = build_graph({"api": [(PY, False), ("base", True)], "base": [(PY, False)]})
    assert [(e.child, e.parent, e.internal) for e in graph.edges()] == [
        ("api", "base", True), ("api", PY, False), ("base", PY, False)]


def test_cycle_names_the_cycle() -> None:
    with pytest.raises(DependencyCycle) as info:
        build_graph({"a": [("b", True)], "b": [("c", True)], "c": [("a", True)], "d": [("a", True)]})
    assert set(info.value.cycle) == {"a", "b", "c"}
    assert "a" in str(info.value) and "→" in str(info.value)


def test_self_reference_is_a_cycle() -> None:
    with pytest.raises(DependencyCycle):
        build_graph({"a": [("a", True)]})
