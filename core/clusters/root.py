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
from .services import NodeServices

ROOT_NODE_DEVICE_TYPE = (0x0016, 1)
OTA_PROVIDER_DEVICE_TYPE = (0x0014, 1)


def build_root_data_model(services: NodeServices) -> DataModel:
    model = DataModel()
    root = model.add(Endpoint(0, [ROOT_NODE_DEVICE_TYPE, OTA_PROVIDER_DEVICE_TYPE]))
    for cluster in (
        BasicInformationCluster(services),
        AccessControlCluster(services),
        GeneralCommissioningCluster(services),
        NetworkCommissioningCluster(),
        OperationalCredentialsCluster(services),
        GroupKeyManagementCluster(services),
        AdministratorCommissioningCluster(services),
        GeneralDiagnosticsCluster(services),
        OtaProviderCluster(services),
    ):
        root.add(cluster)
    root.add(DescriptorCluster(model, root))
    return model
