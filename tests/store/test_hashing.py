"""Content digests: algorithm-tagged, verified, with the form checked."""

from __future__ import annotations

import hashlib
import mmap
from pathlib import Path

import blake3
import pytest

from cadencia.errors import ArtifactCorruptedError, StoreError
from cadencia.store import hashing


def test_blake3_is_the_default_and_names_itself() -> None:
    digest = hashing.digest_bytes(b"abc")
    assert digest == "blake3:" + blake3.blake3(b"abc").hexdigest()
    assert hashing.DEFAULT_ALGORITHM == "blake3"


def test_sha256_is_available() -> None:
    assert hashing.digest_bytes(b"abc", "sha256") == "sha256:" + hashlib.sha256(b"abc").hexdigest()


def test_every_buffer_type_hashes_alike(tmp_path: Path) -> None:
    data = bytes(range(256)) * 100
    path = tmp_path / "data"
    path.write_bytes(data)
    with (
        open(path, "rb") as handle,
        mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
    ):
        from_map = hashing.digest_bytes(mapped)
    assert {
        hashing.digest_bytes(data),
        hashing.digest_bytes(bytearray(data)),
        hashing.digest_bytes(memoryview(data)),
        from_map,
    } == {hashing.digest_bytes(data)}


def test_threaded_hashing_gives_the_same_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"x" * (hashing._THREADED_MIN_BYTES + 1)
    single = hashing.digest_bytes(data)
    monkeypatch.setattr(hashing, "_threads_allowed", True)
    assert hashing.digest_bytes(data) == single


def test_an_unknown_algorithm_is_refused() -> None:
    with pytest.raises(
        StoreError, match=r"^unknown digest algorithm 'md5'; known: blake3, sha256$"
    ):
        hashing.digest_bytes(b"", "md5")


def test_split_digest() -> None:
    assert hashing.split_digest("sha256:" + "ab" * 32) == ("sha256", "ab" * 32)


@pytest.mark.parametrize(
    "bad", ["", "blake3", "blake3:", "blake3:abc", "md5:" + "a" * 32, "blake3:" + "G" * 64]
)
def test_split_digest_checks_the_form(bad: str) -> None:
    with pytest.raises(StoreError, match=r"is not an artifact digest \(expected 'blake3:<hex>'\)$"):
        hashing.split_digest(bad)


def test_check_digest_accepts_matching_bytes_of_either_algorithm() -> None:
    hashing.check_digest(hashing.digest_bytes(b"ok"), b"ok", "here")
    hashing.check_digest(hashing.digest_bytes(b"ok", "sha256"), b"ok", "here")


def test_check_digest_names_the_location_and_the_actual_digest() -> None:
    expected = hashing.digest_bytes(b"original")
    actual = hashing.digest_bytes(b"changed")
    with pytest.raises(
        ArtifactCorruptedError,
        match=rf"^artifact {expected} at /store/x is corrupted: its bytes now hash to {actual};",
    ):
        hashing.check_digest(expected, b"changed", "/store/x")
