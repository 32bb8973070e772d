"""Deterministic per-source-photo splits. A fake carries its source photo's id, so it can
only ever land in the split of the photo it was made from."""
from __future__ import annotations

import hashlib

SPLIT_FRACTIONS = (("train", 0.8), ("val", 0.1), ("test", 0.1))


def split_for(source_id: str, salt: str = "synthspot-v1") -> str:
    """Same id, same split, on every machine: a hash of the id, not a random draw."""
    digest = hashlib.sha256(f"{salt}:{source_id}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    cumulative = 0.0
    for name, fraction in SPLIT_FRACTIONS:
        cumulative += fraction
        if position < cumulative:
            return name
    return SPLIT_FRACTIONS[-1][0]
