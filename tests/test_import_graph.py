"""The tree's layers stay a graph without cycles, and the dashboard reaches the engine's side
through the API package (and the words of the presentation package) only."""

from tests.helpers.import_graph import between_layers, cycles, graph


def test_no_module_imports_itself_through_others():
    assert cycles(graph()) == []


def test_no_package_of_core_imports_itself_through_others():
    assert cycles(between_layers(graph())) == []


def test_the_test_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
