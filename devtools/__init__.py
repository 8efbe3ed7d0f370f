"""Developer tools shared by make, the tests and the bench: never shipped in the wheel."""
