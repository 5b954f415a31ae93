"""Every command of the API has its handler: the union of commands is closed over the table."""

from ota_provider.core.api.commands import COMMANDS, QueryHistory
from ota_provider.core.engine.handlers import HANDLERS


def test_every_command_has_one_handler():
    # QueryHistory reads the database off the engine's loop: the engine answers it itself.
    assert set(HANDLERS) == set(COMMANDS.values()) - {QueryHistory}
