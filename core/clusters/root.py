"""Endpoint 0 of the provider: the Root Node and OTA Provider device types and their clusters."""

from __future__ import annotations

from ..im.model import DataModel, Endpoint
from .access_control import AccessControlCluster
from .administrator_commissioning import AdministratorCommissioningCluster
from .basic_information import BasicInformationCluster
from .descriptor import DescriptorCluster
from .general_commissioning import GeneralCommissioningCluster
from .general_diagnostics import GeneralDiagnosticsCluster
from .group_key_management import GroupKeyManagementCluster
from .network_commissioning import NetworkCommissioningCluster
from .operational_credentials import OperationalCredentialsCluster
from .ota_provider import OtaProviderCluster
from .services import Administration, CommissioningWindow, Described

ROOT_NODE_DEVICE_TYPE = (0x0016, 1)
OTA_PROVIDER_DEVICE_TYPE = (0x0014, 1)


def build_root_data_model(described: Described, admin: Administration, window: CommissioningWindow) -> DataModel:
    """Each cluster gets the one service it uses: ``described`` (who the node is, its settings and
    clock), ``admin`` (fabrics, ACLs, fail-safe) or ``window``."""
    model = DataModel()
    root = model.add(Endpoint(0, [ROOT_NODE_DEVICE_TYPE, OTA_PROVIDER_DEVICE_TYPE]))
    for cluster in (
        BasicInformationCluster(described),
        AccessControlCluster(admin),
        GeneralCommissioningCluster(admin),
        NetworkCommissioningCluster(),
        OperationalCredentialsCluster(admin),
        GroupKeyManagementCluster(admin),
        AdministratorCommissioningCluster(window, admin),
        GeneralDiagnosticsCluster(described),
        OtaProviderCluster(admin),
    ):
        root.add(cluster)
    root.add(DescriptorCluster(model, root))
    return model
