"""Benchmarks: in-process Match against a brute-force scan, the gRPC server, feed loading."""
