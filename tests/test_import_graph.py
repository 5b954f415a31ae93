"""The tree's layers stay a graph without cycles, and the dashboard reaches the engine's side
through the API package (and the words of the presentation package) only."""

import subprocess
import sys

from tests.helpers.import_graph import between_layers, cycles, graph


def test_no_module_imports_itself_through_others():
    assert cycles(graph()) == []


def test_no_package_of_core_imports_itself_through_others():
    assert cycles(between_layers(graph())) == []


def test_the_test_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# The dashboard's composition root: it starts the engine (or attaches) and hands the dashboard a link.
COMPOSITION_ROOT = "ota_provider.tui.launch"
FRONT_END_SIDE = ("ota_provider.core.api", "ota_provider.core.presentation")


def test_the_dashboard_reaches_the_engine_through_the_api_package_only():
    past = {
        (module, target)
        for module, targets in graph().items()
        if module.startswith("ota_provider.tui.") and module != COMPOSITION_ROOT
        for target in targets
        if target.startswith("ota_provider.core") and not target.startswith(FRONT_END_SIDE)
    }
    assert past == set()


def test_importing_the_api_does_not_import_the_protocol_stack():
    script = (
        "import sys\n"
        "import ota_provider.core.api.client, ota_provider.core.api.events, ota_provider.core.api.session\n"
        "import ota_provider.core.api.values, ota_provider.core.api.wire, ota_provider.core.api.link\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    stack = ("exchange", "session", "securechannel", "im", "transport", "clusters", "fabric", "node", "engine")
    assert [m for m in loaded if m.split(".")[2:3] and m.split(".")[2] in stack and m.startswith("ota_provider")] == []
    assert "ota_provider.core.bdx.server" not in loaded and "zeroconf" not in loaded
