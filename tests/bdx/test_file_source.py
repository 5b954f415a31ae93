"""The image file a transfer reads: the bytes at any offset, whatever the order of the reads."""

from __future__ import annotations

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ota_provider.core.bdx.messages import BdxError
from ota_provider.core.bdx.sender import READ_AHEAD, FileSource

IMAGE = os.urandom(3 * READ_AHEAD + 123)


@pytest.fixture(scope="module")
def image_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("image") / "image.ota"
    path.write_bytes(IMAGE)
    return path


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(IMAGE) + 10), st.integers(1, 2048)), min_size=1, max_size=40))
def test_every_read_gives_the_file_bytes(image_path, reads):
    """Blocks in order, a block asked again after a lost one, a jump back after a restart, reads
    across the read-ahead window's end and past the end of the file."""
    source = FileSource(image_path)
    try:
        for offset, size in reads:
            assert source.read(offset, size) == IMAGE[offset : offset + size]
    finally:
        source.close()


def test_a_file_rewritten_in_place_reads_short_instead_of_failing(tmp_path):
    path = tmp_path / "image.ota"
    path.write_bytes(IMAGE)
    source = FileSource(path)
    try:
        assert source.read(0, 1024) == IMAGE[:1024]
        path.write_bytes(IMAGE[:100])  # truncated under the transfer: the window past it is re-read
        assert source.read(2 * READ_AHEAD, 1024) == b""
    finally:
        source.close()


def test_a_closed_source_refuses_reads_even_inside_its_window(image_path):
    source = FileSource(image_path)
    source.read(0, 1024)
    source.close()
    with pytest.raises(BdxError, match="was closed"):
        source.read(1024, 1024)
