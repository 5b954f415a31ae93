"""The Matter node: assembly (``assembly.py``) and its timed parts (the commissioning window, the work
queue, the checkpoints), fabric administration, its identity and the DNS-SD records that follow it."""

from .assembly import MatterNode, NodeDescription
from .config import NodeConfig
from .fabric_admin import FabricAdministration, RolledBack
from .window import DEFAULT_WINDOW_SECONDS, CommissioningWindow, CommissioningWindows

__all__ = [
    "DEFAULT_WINDOW_SECONDS",
    "CommissioningWindow",
    "CommissioningWindows",
    "FabricAdministration",
    "MatterNode",
    "NodeConfig",
    "NodeDescription",
    "RolledBack",
]
