"""The matcher domain: pure modules, no gRPC, no generated code."""
