"""Replays recorded provider model-list APIs on loopback (tests, `make demo`, benchmarks)."""
