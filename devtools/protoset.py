"""Writes a descriptor set of every service the server offers, for grpcurl's -protoset.

With tokens on, reflection answers only token holders; with this file grpcurl needs no
reflection, so a health check works without a token as load balancers make it. It holds what
reflection serves: the API with its comments, the error details, health and reflection.

    python -m devtools.protoset --out dev-certs/matcher.protoset
"""

from __future__ import annotations

import argparse
from pathlib import Path

from google.protobuf import descriptor_pb2

from matcher_api.reflection import served_files


def descriptor_set() -> descriptor_pb2.FileDescriptorSet:
    """The files reflection serves, imports first."""
    return descriptor_pb2.FileDescriptorSet(file=served_files().values())


def main() -> None:
    """Parses --out and writes the descriptor set there."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="file to write")
    out = parser.parse_args().out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(descriptor_set().SerializeToString())


if __name__ == "__main__":
    main()
