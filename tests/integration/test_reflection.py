"""Server reflection, v1 and v1alpha, over a real server: every symbol a client can ask for.

grpcio-reflection alone cannot resolve a method (grpc/grpc#34743) and serves only v1alpha;
matcher_api/reflection.py fixes both and serves the proto's comments.
"""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2 as rpb

from matcher_api.v1 import feed_admin_pb2, matcher_pb2

PATHS = {
    "v1": "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "v1alpha": "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
}
SERVICES = [
    *matcher_pb2.DESCRIPTOR.services_by_name.values(),
    *feed_admin_pb2.DESCRIPTOR.services_by_name.values(),
]
METHODS = [m.full_name for s in SERVICES for m in s.methods]


def ask(channel: grpc.Channel, version: str, **request: str) -> rpb.ServerReflectionResponse:
    """One reflection request on one version; v1's messages are v1alpha's on the wire."""
    call = channel.stream_stream(
        PATHS[version],
        request_serializer=rpb.ServerReflectionRequest.SerializeToString,
        response_deserializer=rpb.ServerReflectionResponse.FromString,
    )
    (answer,) = list(call(iter([rpb.ServerReflectionRequest(**request)]), timeout=10))
    return answer


def files(answer: rpb.ServerReflectionResponse) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """The files an answer carries, by name."""
    assert answer.HasField("file_descriptor_response"), answer
    found = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in answer.file_descriptor_response.file_descriptor_proto
    ]
    return {f.name: f for f in found}


@pytest.mark.parametrize("version", PATHS)
def test_both_versions_list_the_services_and_themselves(channel, version):
    answer = ask(channel, version, list_services="")
    names = {s.name for s in answer.list_services_response.service}
    assert {
        "matcher.v1.MatcherService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    } <= names


@pytest.mark.parametrize("version", PATHS)
@pytest.mark.parametrize("method", METHODS)
def test_a_method_resolves_to_the_file_declaring_it_and_its_imports(channel, version, method):
    found = files(ask(channel, version, file_containing_symbol=method))
    service, name = method.rsplit(".", 1)
    declaring = [
        f
        for f in found.values()
        for s in f.service
        if f"{f.package}.{s.name}" == service and any(m.name == name for m in s.method)
    ]
    assert len(declaring) == 1, sorted(found)
    assert set(declaring[0].dependency) <= set(found)


@pytest.mark.parametrize("version", PATHS)
@pytest.mark.parametrize(
    "symbol",
    [
        "matcher.v1.MatcherService",
        "matcher.v1.MatchRequest",
        "matcher.v1.Modality",
        "grpc.health.v1.Health.Check",
        "grpc.reflection.v1.ServerReflection.ServerReflectionInfo",
    ],
)
def test_services_messages_enums_and_library_methods_resolve(channel, version, symbol):
    assert files(ask(channel, version, file_containing_symbol=symbol))


@pytest.mark.parametrize("version", PATHS)
def test_files_keep_the_protos_comments(channel, version):
    found = files(ask(channel, version, file_containing_symbol="matcher.v1.Slot"))
    described = found["matcher/v1/matcher.proto"].source_code_info.location
    assert any("offset minus the user's" in loc.leading_comments for loc in described)


@pytest.mark.parametrize("version", PATHS)
@pytest.mark.parametrize(
    "symbol",
    ["matcher.v1.MatcherService.NoSuchMethod", "matcher.v1.Nothing", "nothing.At.All"],
)
def test_an_unknown_symbol_is_not_found(channel, version, symbol):
    answer = ask(channel, version, file_containing_symbol=symbol)
    assert answer.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]


@pytest.mark.parametrize("version", PATHS)
def test_files_by_name_come_with_their_imports(channel, version):
    found = files(ask(channel, version, file_by_filename="matcher/v1/feed_admin.proto"))
    assert {
        "matcher/v1/feed_admin.proto",
        "matcher/v1/matcher.proto",
        "google/protobuf/timestamp.proto",
    } == set(found)
    missing = ask(channel, version, file_by_filename="matcher/v9/nothing.proto")
    assert missing.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]
