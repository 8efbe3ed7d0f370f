"""The slot engine: availability expanded, filtered and rendered as numpy arrays."""
