"""Server reflection that grpcurl can use fully: v1 and v1alpha, methods resolved, comments kept.

grpcio-reflection serves only ``grpc.reflection.v1alpha`` and cannot find the file of a method
symbol (``matcher.v1.MatcherService.Match``: grpc/grpc#34743), so ``grpcurl describe`` of a
method fails. This servicer looks a method up through its service, serves the same answers
under ``grpc.reflection.v1`` (whose messages are v1alpha's, field for field, in another
package), and answers from descriptors that keep the proto's comments, so ``describe`` shows
the documentation.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FileDescriptor
from google.rpc import error_details_pb2, status_pb2
from grpc_health.v1 import health_pb2
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

#: The reflection services this module serves; the v1alpha one is grpcio-reflection's name.
V1ALPHA = reflection.SERVICE_NAME
V1 = "grpc.reflection.v1.ServerReflection"
SERVICE_NAMES = (V1, V1ALPHA)
#: Written by ``make gen`` (devtools/protogen.py) beside the generated code.
DESCRIPTORS = "descriptors.binpb"


def v1_file(v1alpha: descriptor_pb2.FileDescriptorProto) -> descriptor_pb2.FileDescriptorProto:
    """grpc/reflection/v1/reflection.proto, made from v1alpha's: the same messages renamed."""
    old, new = f".{v1alpha.package}.", ".grpc.reflection.v1."
    made = descriptor_pb2.FileDescriptorProto()
    made.CopyFrom(v1alpha)
    made.name = "grpc/reflection/v1/reflection.proto"
    made.package = new.strip(".")
    for message in made.message_type:
        for field in message.field:
            if field.HasField("type_name"):
                field.type_name = field.type_name.replace(old, new)
    for service in made.service:
        for method in service.method:
            method.input_type = method.input_type.replace(old, new)
            method.output_type = method.output_type.replace(old, new)
    return made


def proto_of(descriptor: FileDescriptor) -> descriptor_pb2.FileDescriptorProto:
    """A compiled-in file's descriptor as a message."""
    made = descriptor_pb2.FileDescriptorProto()
    descriptor.CopyToProto(made)
    return made


def with_imports(roots: Iterable[FileDescriptor]) -> list[descriptor_pb2.FileDescriptorProto]:
    """Compiled-in files and everything they import, each once, imports first."""
    found: dict[str, descriptor_pb2.FileDescriptorProto] = {}

    def add(descriptor: FileDescriptor) -> None:
        for dependency in descriptor.dependencies:
            add(dependency)
        if descriptor.name not in found:
            found[descriptor.name] = proto_of(descriptor)

    for root in roots:
        add(root)
    return list(found.values())


def served_files() -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """The files reflection answers with, by name, imports first.

    The API with its comments, the error details its statuses carry (so grpcurl can print
    them), health, and reflection itself.
    """
    described = descriptor_pb2.FileDescriptorSet.FromString(
        resources.files("matcher_api.v1").joinpath(DESCRIPTORS).read_bytes()
    )
    alpha = proto_of(reflection_pb2.DESCRIPTOR)
    files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
    library = [error_details_pb2.DESCRIPTOR, status_pb2.DESCRIPTOR, health_pb2.DESCRIPTOR]
    for f in [*described.file, *with_imports(library), alpha, v1_file(alpha)]:
        files.setdefault(f.name, without_json_names(f))
    return files


def without_json_names(f: descriptor_pb2.FileDescriptorProto) -> descriptor_pb2.FileDescriptorProto:
    """A file whose fields leave json_name unset, as the compiled-in descriptors do.

    protoc fills in lowerCamelCase JSON names; given them, grpcurl prints ``utcOffsetSeconds``
    where it has always printed the proto's own ``utc_offset_seconds``. It accepts both.
    """

    def clear(message: descriptor_pb2.DescriptorProto) -> None:
        for field in message.field:
            field.ClearField("json_name")
        for nested in message.nested_type:
            clear(nested)

    for message in f.message_type:
        clear(message)
    return f


class Reflection(reflection.ReflectionServicer):
    """grpcio-reflection's servicer over the served files, with two fixes.

    A method's symbol resolves to its service's file, and files go out as they were compiled,
    comments included (a pool's descriptors drop SourceCodeInfo when copied out).
    """

    def __init__(self, service_names: Iterable[str]) -> None:
        self._files = served_files()
        pool = descriptor_pool.DescriptorPool()
        for f in self._files.values():
            pool.Add(f)
        super().__init__(service_names, pool=pool)

    def _file_by_filename(self, request: Any, filename: str) -> Any:
        """The named file and everything it imports."""
        if filename not in self._files:
            return super()._file_by_filename(request, filename)  # its not-found answer
        return self._with_imports(request, filename)

    def _file_containing_symbol(self, request: Any, fully_qualified_name: str) -> Any:
        """The file declaring a symbol; for ``pkg.Service.Method``, the service's file."""
        pool: descriptor_pool.DescriptorPool = self._pool
        name = fully_qualified_name
        service_name, _, method = name.rpartition(".")
        try:
            service = pool.FindServiceByName(service_name)
        except KeyError:
            service = None
        if service is not None and method in service.methods_by_name:
            name = service_name
        try:
            found = pool.FindFileContainingSymbol(name)
        except KeyError:
            return super()._file_containing_symbol(request, name)  # its not-found answer
        return self._with_imports(request, found.name)

    def _with_imports(self, request: Any, filename: str) -> Any:
        """An answer holding a file and, transitively, its imports, each once."""
        wanted, pending = [], [filename]
        while pending:
            name = pending.pop()
            if name not in wanted:
                wanted.append(name)
                pending.extend(self._files[name].dependency)
        return reflection_pb2.ServerReflectionResponse(
            file_descriptor_response=reflection_pb2.FileDescriptorResponse(
                file_descriptor_proto=[self._files[n].SerializeToString() for n in wanted]
            ),
            original_request=request,
        )


def add_reflection(server: grpc.Server, *, services: Iterable[str]) -> None:
    """Serves reflection, v1 and v1alpha, listing ``services`` and the reflection services."""
    servicer = Reflection((*services, *SERVICE_NAMES))
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    # v1's messages are v1alpha's on the wire: the same fields, numbers and types
    v1 = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(V1, {"ServerReflectionInfo": v1}),)
    )
