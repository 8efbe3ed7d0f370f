"""Writes a descriptor set of the matcher and health services, for grpcurl's -protoset.

With tokens on, reflection answers only token holders; with this file grpcurl needs no
reflection, so a health check works without a token as load balancers make it.

    python -m devtools.protoset --out dev-certs/matcher.protoset
"""

from __future__ import annotations

import argparse
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FileDescriptor
from grpc_health.v1 import health_pb2

from matcher_api.v1 import matcher_pb2


def descriptor_set(*roots: FileDescriptor) -> descriptor_pb2.FileDescriptorSet:
    """The files of ``roots`` and of everything they import, each once, imports first."""
    files = descriptor_pb2.FileDescriptorSet()
    seen: set[str] = set()

    def add(descriptor: FileDescriptor) -> None:
        for dependency in descriptor.dependencies:
            add(dependency)
        if descriptor.name not in seen:
            seen.add(descriptor.name)
            descriptor.CopyToProto(files.file.add())

    for root in roots:
        add(root)
    return files


def main() -> None:
    """Parses --out and writes the descriptor set there."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="file to write")
    out = parser.parse_args().out
    out.parent.mkdir(parents=True, exist_ok=True)
    files = descriptor_set(matcher_pb2.DESCRIPTOR, health_pb2.DESCRIPTOR)
    out.write_bytes(files.SerializeToString())


if __name__ == "__main__":
    main()
