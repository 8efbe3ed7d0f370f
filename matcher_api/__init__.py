"""The gRPC shell around the matcher domain: conversion, error mapping and the server.

gRPC core writes its own log lines (TLS handshake failures, for one) as plain text straight to
stderr, where they would break the JSON log stream; it reads GRPC_VERBOSITY once, when grpc is
first imported, so it is set here, before any module of this package imports grpc. An operator
who wants core's lines anyway sets GRPC_VERBOSITY (DEBUG, INFO or ERROR) explicitly.
"""

import os

os.environ.setdefault("GRPC_VERBOSITY", "NONE")
