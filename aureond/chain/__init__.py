"""The pure consensus core: no I/O, no clock reads, no randomness, no globals."""
