"""A small, deterministic mutation fuzzer shared by the decoder fuzz tests.

Each run feeds a decoder a fixed number of inputs: random byte strings and
mutations (bit flips, byte replacements, insertions, deletions, truncations,
splices) of a corpus of valid encodings. The seed is fixed so a failure is
reproducible; the failing input is shown in the assertion message.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence

INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x15, 0x16, 0x17, 0x18, 0x1F, 0xE0)


def mutate(rng: random.Random, data: bytes, corpus: Sequence[bytes]) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(7)
        if choice == 0 and buf:
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif choice == 1 and buf:
            buf[rng.randrange(len(buf))] = rng.choice(INTERESTING_BYTES)
        elif choice == 2:
            buf.insert(rng.randrange(len(buf) + 1), rng.randrange(256))
        elif choice == 3 and buf:
            del buf[rng.randrange(len(buf))]
        elif choice == 4 and buf:
            del buf[rng.randrange(len(buf) + 1) :]
        elif choice == 5:
            other = rng.choice(corpus)
            cut = rng.randrange(len(other) + 1)
            buf[rng.randrange(len(buf) + 1) :] = other[cut:]
        elif buf:
            i = rng.randrange(len(buf))
            buf[i : i + 1] = rng.randbytes(rng.randint(1, 8))
    return bytes(buf)


def fuzz_inputs(corpus: Sequence[bytes], count: int, seed: int, max_random_len: int = 64) -> Iterator[bytes]:
    rng = random.Random(seed)
    for i in range(count):
        if i % 4 == 0:
            yield rng.randbytes(rng.randrange(max_random_len))
        else:
            yield mutate(rng, rng.choice(corpus), corpus)


def assert_only_raises(
    decoder: Callable[[bytes], object], allowed: type[BaseException], inputs: Iterator[bytes]
) -> int:
    """Run ``decoder`` on every input; any exception other than ``allowed`` fails. Returns the count."""
    count = 0
    for data in inputs:
        count += 1
        try:
            decoder(data)
        except allowed:
            pass
        except Exception as exc:  # the point of the test: report the input that escaped
            raise AssertionError(f"{type(exc).__name__}: {exc} for input {data.hex()}") from exc
    return count
