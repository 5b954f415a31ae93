"""An OtaProvider on the sample image list, and the QueryImage a requestor sends."""

from __future__ import annotations

from ota_provider.core.node_ids import Peer
from ota_provider.core.ota.catalog import ImageCatalog
from ota_provider.core.ota.commands import QueryImage
from ota_provider.core.ota.policy import OtaPolicy
from ota_provider.core.ota.provider import OtaProvider
from ota_provider.core.ota.types import DownloadProtocol
from tests.helpers.samples import SAMPLES

A, B = Peer(1, 0x10), Peer(2, 0x10)  # the same node id on two fabrics is two requestors


BDX = (DownloadProtocol.BDX_SYNCHRONOUS,)


def provider(**kwargs):
    return OtaProvider(ImageCatalog.from_list(SAMPLES / "image-list.json"), OtaPolicy(), **kwargs)


def query(version, protocols=BDX):
    return QueryImage(0xFFF1, 0x8000, version, protocols)
