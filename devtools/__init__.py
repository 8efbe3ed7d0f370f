"""Developer tooling shared by make, the tests and the benchmark; never shipped."""
