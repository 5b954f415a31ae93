"""Each endpoint-0 cluster on a data model built from fake node services, against the spec's
tables as the reference transcribes them (../shared/reference/MATTER_STACK.md, the table of the
root node's clusters: attribute, command and event ids of each cluster), and its commands'
answers by the spec's status codes. The whole commissioning flows test them
together over the network; these test each alone."""

from __future__ import annotations

import pytest

from ota_provider.core.codec import tlv
from ota_provider.core.codec.im_status import ImStatus
from ota_provider.core.codec.schema import SchemaError
from ota_provider.core.codec.tlv import UInt
from ota_provider.core.crypto.spake2p import Spake2pVerifier
from ota_provider.core.im.model import ImError
from ota_provider.core.session.secure import AuthMode
from tests.helpers.node_services import context, root_model

# Global attributes (Core spec 7.13): ClusterRevision, FeatureMap, AttributeList,
# AcceptedCommandList, GeneratedCommandList.
GLOBAL = {0xFFFD, 0xFFFC, 0xFFFB, 0xFFF9, 0xFFF8}

# cluster id: (mandatory attributes, accepted commands, generated commands, events), as the
# reference's table lists them for a root node on Ethernet with an OTA Provider (OTA Provider: its
# row in the same file's summary).
SPEC = {
    0x001D: ({0x0000, 0x0001, 0x0002, 0x0003}, set(), set(), set()),  # Descriptor
    0x001F: ({0x0000, 0x0002, 0x0003, 0x0004}, set(), set(), {0x00}),  # Access Control
    0x0028: (
        {
            0x0000,
            0x0001,
            0x0002,
            0x0003,
            0x0004,
            0x0005,
            0x0006,
            0x0007,
            0x0008,
            0x0009,
            0x000A,
            0x0012,
            0x0013,
            0x0015,
            0x0016,
        },
        set(),
        set(),
        {0x00},
    ),  # Basic Information
    0x0029: (set(), {0x00, 0x02, 0x04}, {0x01, 0x03}, set()),  # OTA Software Update Provider
    0x0030: (
        {0x0000, 0x0001, 0x0002, 0x0003, 0x0004},
        {0x00, 0x02, 0x04},
        {0x01, 0x03, 0x05},
        set(),
    ),  # General Commissioning
    0x0031: ({0x0000, 0x0001, 0x0004, 0x0005, 0x0006, 0x0007}, set(), set(), set()),  # Network Commissioning
    0x0033: ({0x0000, 0x0001, 0x0008}, {0x00, 0x01}, {0x02}, {0x03}),  # General Diagnostics
    0x003C: ({0x0000, 0x0001, 0x0002}, {0x00, 0x02}, set(), set()),  # Administrator Commissioning
    0x003E: (
        {0x0000, 0x0001, 0x0002, 0x0003, 0x0004, 0x0005},
        {0x00, 0x02, 0x04, 0x06, 0x07, 0x09, 0x0A, 0x0B},
        {0x01, 0x03, 0x05, 0x08},
        set(),
    ),  # Operational Credentials
    0x003F: ({0x0000, 0x0001, 0x0002, 0x0003}, {0x00, 0x01, 0x03, 0x04}, {0x02, 0x05}, set()),  # Group Key Management
}
ADMIN = context(AuthMode.CASE, fabric_index=1)


@pytest.mark.parametrize("cluster_id", sorted(SPEC), ids=lambda c: f"0x{c:04X}")
def test_each_cluster_has_what_the_spec_table_lists(cluster_id):
    model, _ = root_model()
    cluster = model.cluster(0, cluster_id)
    assert cluster is not None
    attributes, accepted, generated, events = SPEC[cluster_id]
    assert attributes | GLOBAL <= set(cluster.attribute_ids())
    read = {a: cluster.attribute_spec(a).read(ADMIN) for a in cluster.attribute_ids()}
    assert {int(c) for c in read[0xFFF9]} == accepted and {int(c) for c in read[0xFFF8]} == generated
    assert {int(a) for a in read[0xFFFB]} == set(cluster.attribute_ids())
    assert all(cluster.event_privilege(e) is not None for e in events)
    for value in read.values():  # every attribute is a TLV value a client can decode
        assert tlv.decode(tlv.encode(value)) == value


def test_the_descriptor_lists_every_cluster_and_both_device_types():
    model, _ = root_model()
    descriptor = model.cluster(0, 0x001D)
    servers = {int(c) for c in descriptor.attribute_spec(0x0001).read(ADMIN)}
    assert servers == set(model.endpoints[0].clusters)
    device_types = {int(d[0]) for d in descriptor.attribute_spec(0x0000).read(ADMIN)}
    assert device_types == {0x0016, 0x0014}  # Root Node, OTA Provider


def test_basic_information_checks_writes_and_keeps_its_unique_id():
    model, services = root_model()
    basic = model.cluster(0, 0x0028)
    assert basic.attribute_spec(0x0002).read(ADMIN) == 0xFFF1
    label = basic.attribute_spec(0x0005)
    label.write(ADMIN, "x" * 32)  # NodeLabel: at most 32 bytes
    with pytest.raises(ImError) as refused:
        label.write(ADMIN, "x" * 33)
    assert refused.value.status == ImStatus.CONSTRAINT_ERROR and label.read(ADMIN) == "x" * 32
    with pytest.raises(ImError):
        basic.attribute_spec(0x0006).write(ADMIN, "USA")  # Location: two characters
    unique = basic.attribute_spec(0x0012).read(ADMIN)
    again, _ = root_model(services)  # the same state: the same UniqueID
    assert again.cluster(0, 0x0028).attribute_spec(0x0012).read(ADMIN) == unique and len(unique) <= 32


def _invoke(model, cluster_id, command_id, fields, ctx=ADMIN):
    return model.cluster(0, cluster_id).command_spec(command_id).handler(ctx, tlv.Structure(fields))


def test_general_commissioning_answers_with_the_specs_error_codes():
    model, services = root_model()
    pase = context(AuthMode.PASE)
    assert _invoke(model, 0x0030, 0x04, {}, pase) == (0x05, tlv.Structure({0: UInt(3), 1: "fail-safe not armed"}))
    response, fields = _invoke(model, 0x0030, 0x00, {0: UInt(60), 1: UInt(7)}, pase)  # ArmFailSafe
    assert (response, int(fields[0])) == (0x01, 0) and services.failsafe.armed
    assert model.cluster(0, 0x0030).attribute_spec(0x0000).read(pase) == 7  # the breadcrumb
    _, fields = _invoke(model, 0x0030, 0x04, {}, pase)  # CommissioningComplete over PASE: not allowed
    assert int(fields[0]) == 2  # InvalidAuthentication
    _, fields = _invoke(model, 0x0030, 0x02, {0: UInt(3), 1: "XX", 2: UInt(0)}, pase)  # SetRegulatoryConfig
    assert int(fields[0]) == 1  # ValueOutsideRange: 0 indoor, 1 outdoor, 2 both
    _, fields = _invoke(model, 0x0030, 0x02, {0: UInt(0), 1: "DE", 2: UInt(0)}, pase)
    assert int(fields[0]) == 0 and model.cluster(0, 0x0028).attribute_spec(0x0006).read(pase) == "DE"
    other = context(AuthMode.CASE, fabric_index=2)
    services.failsafe.arm(1, 60)
    _, fields = _invoke(model, 0x0030, 0x00, {0: UInt(60), 1: UInt(0)}, other)
    assert int(fields[0]) == 4  # BusyWithOtherAdmin


def _window_request(iterations=1000, timeout=300):
    verifier = Spake2pVerifier.from_passcode(20202021, b"S" * 16, 1000).to_bytes()
    return {0: UInt(timeout), 1: verifier, 2: UInt(3840), 3: UInt(iterations), 4: b"S" * 16}


def test_administrator_commissioning_opens_and_revokes_a_window_by_the_spec():
    model, services = root_model()
    with pytest.raises(ImError) as refused:
        _invoke(model, 0x003C, 0x02, {})  # RevokeCommissioning, nothing open
    assert (refused.value.status, refused.value.cluster_status) == (ImStatus.FAILURE, 4)  # WindowNotOpen
    with pytest.raises(ImError) as refused:
        _invoke(model, 0x003C, 0x00, _window_request(iterations=999))
    assert refused.value.cluster_status == 3  # PAKEParameterError: fewer than 1000 iterations
    with pytest.raises(ImError) as refused:
        _invoke(model, 0x003C, 0x00, _window_request(timeout=179))
    assert refused.value.status == ImStatus.INVALID_COMMAND  # below the 180 s minimum
    assert _invoke(model, 0x003C, 0x00, _window_request()) is None
    assert services.window is not None and services.window[0] == 300 and services.window[2] == 3840
    cluster = model.cluster(0, 0x003C)
    assert [cluster.attribute_spec(a).read(ADMIN) for a in (0, 1)] == [1, 1]  # enhanced, opened by fabric 1
    with pytest.raises(ImError) as refused:
        _invoke(model, 0x003C, 0x00, _window_request())
    assert refused.value.cluster_status == 2  # Busy: one window at a time
    assert _invoke(model, 0x003C, 0x02, {}) is None and services.window is None


def test_general_diagnostics_time_snapshot_and_disabled_test_triggers():
    model, services = root_model()
    services.now += 2.5
    response, fields = _invoke(model, 0x0033, 0x01, {})
    assert response == 0x02 and int(fields[0]) == 2500  # SystemTimeMs: since the node started
    with pytest.raises(ImError) as refused:
        _invoke(model, 0x0033, 0x00, {0: b"\x00" * 16, 1: UInt(0)})
    assert refused.value.status == ImStatus.CONSTRAINT_ERROR  # TestEventTriggersEnabled is false


def test_the_ota_provider_refuses_a_query_it_cannot_answer_with_a_uri():
    # The ImageURI names this node on the requestor's fabric: with no such fabric there is no URI
    # to build, and the SDK's provider answers FAILURE too. The flows over the network test the rest.
    model, _ = root_model()
    query = {0: UInt(0xFFF1), 1: UInt(0x8000), 2: UInt(1), 3: tlv.Array([UInt(0)])}  # BDX synchronous
    with pytest.raises(ImError) as refused:
        _invoke(model, 0x0029, 0x00, query, context(AuthMode.CASE, fabric_index=1, node_id=0xD001))
    assert refused.value.status == ImStatus.FAILURE
    with pytest.raises(SchemaError):  # the IM server answers it INVALID_COMMAND (Core spec 8.10.1)
        _invoke(model, 0x0029, 0x00, {0: "not a vendor id"})


def test_network_commissioning_is_one_connected_ethernet_interface():
    model, _ = root_model()
    cluster = model.cluster(0, 0x0031)
    assert cluster.attribute_spec(0xFFFC).read(ADMIN) == 0x4  # EN: Ethernet
    assert cluster.attribute_spec(0x0000).read(ADMIN) == 1  # MaxNetworks
    (network,) = cluster.attribute_spec(0x0001).read(ADMIN)
    assert network[1] is True  # Connected
    assert cluster.attribute_spec(0x0004).read(ADMIN) is True  # InterfaceEnabled
