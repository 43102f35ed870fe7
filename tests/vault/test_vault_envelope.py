"""The sealed-blob format: round trips, and every kind of damage fails with a typed error."""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from txsync.errors import KeyUnavailableError, SealedFormatError, TamperedError, VaultError
from txsync.vault import LocalKMS, SealContext, key_of, open_blob, read_header, rewrap, seal
from txsync.vault.envelope import FORMAT_VERSION, MAGIC
from txsync.vault.local import _Keyring

KMS = LocalKMS(_Keyring.new(), source="test")
CTX = SealContext("alice", "con_1", "binance", "api_secret")

names = st.text(min_size=1, max_size=40)
contexts = st.builds(SealContext, names, names, names, names)


@settings(max_examples=150, deadline=None)
@given(plaintext=st.binary(max_size=512), context=contexts)
def test_round_trip_for_any_plaintext_and_context(plaintext: bytes, context: SealContext) -> None:
    blob = seal(KMS, plaintext, context)
    assert open_blob(KMS, blob, context) == plaintext
    assert plaintext not in blob[len(MAGIC) + 2:] or len(plaintext) < 4


@settings(max_examples=300, deadline=None)
@given(plaintext=st.binary(min_size=1, max_size=64), data=st.data())
def test_a_flipped_bit_anywhere_fails_to_open(plaintext: bytes, data: st.DataObject) -> None:
    blob = bytearray(seal(KMS, plaintext, CTX))
    bit = data.draw(st.integers(0, len(blob) * 8 - 1))
    blob[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(VaultError):
        open_blob(KMS, bytes(blob), CTX)


@settings(max_examples=150, deadline=None)
@given(plaintext=st.binary(max_size=64), data=st.data())
def test_any_truncation_fails_to_open(plaintext: bytes, data: st.DataObject) -> None:
    blob = seal(KMS, plaintext, CTX)
    cut = data.draw(st.integers(0, len(blob) - 1))
    with pytest.raises((SealedFormatError, TamperedError)):
        open_blob(KMS, blob[:cut], CTX)


@settings(max_examples=100, deadline=None)
@given(plaintext=st.binary(max_size=64), other=contexts)
def test_a_blob_opens_only_where_it_was_sealed(plaintext: bytes, other: SealContext) -> None:
    blob = seal(KMS, plaintext, CTX)
    if other == CTX:
        return
    with pytest.raises(TamperedError):
        open_blob(KMS, blob, other)


@pytest.mark.parametrize("field", ["owner_id", "connection_id", "connector_id", "field"])
def test_each_part_of_the_context_is_bound(field: str) -> None:
    blob = seal(KMS, b"s3cret", CTX)
    moved = SealContext(**{**{f: getattr(CTX, f) for f in CTX.__slots__}, field: "other"})  # type: ignore[arg-type]
    with pytest.raises(TamperedError, match="another connection or field"):
        open_blob(KMS, blob, moved)


@pytest.mark.parametrize("version", [0, 2, 255])
def test_an_unknown_format_version_is_refused(version: int) -> None:
    blob = bytearray(seal(KMS, b"x", CTX))
    blob[len(MAGIC)] = version
    with pytest.raises(SealedFormatError, match=f"format version {version} is not supported"):
        open_blob(KMS, bytes(blob), CTX)


def test_not_a_blob_at_all() -> None:
    for junk in (b"", b"TXS", b"hello world, not a blob", os.urandom(64)):
        with pytest.raises(SealedFormatError):
            read_header(junk)
    with pytest.raises(SealedFormatError, match="algorithm 9"):
        read_header(MAGIC + bytes((FORMAT_VERSION, 9)) + b"\0" * 40)


def test_the_header_names_everything_needed_to_open_it() -> None:
    blob = seal(KMS, b"payload", CTX)
    header = read_header(blob)
    assert header.format_version == 1 and header.algorithm == 1 and len(header.nonce) == 12
    assert header.key == KMS.primary() == key_of(blob)
    assert header.key.backend == "local"
    # fresh data key and nonce each time: the same plaintext never seals to the same bytes
    assert seal(KMS, b"payload", CTX) != blob
    assert read_header(seal(KMS, b"payload", CTX)).nonce != header.nonce


def test_rewrap_keeps_the_payload_byte_for_byte() -> None:
    kms = LocalKMS(_Keyring.new(), source="test", save=lambda _text: None)
    blob = seal(kms, b"the secret", CTX)
    old = read_header(blob)
    kms.add_version()
    new_blob = rewrap(kms, blob, CTX)
    new = read_header(new_blob)
    assert new.key.version == "2" and old.key.version == "1"
    assert new_blob[new.body_offset - 12:] == blob[old.body_offset - 12:]  # nonce + ciphertext + tag
    assert open_blob(kms, new_blob, CTX) == b"the secret"


def test_a_blob_from_another_kms_backend_is_unavailable() -> None:
    blob = bytearray(seal(KMS, b"x", CTX))
    # rename the backend "local" -> "lokal" in the header
    at = len(MAGIC) + 2
    (size,) = struct.unpack(">B", blob[at:at + 1])
    blob[at + 1:at + 1 + size] = b"lokal"
    with pytest.raises(KeyUnavailableError, match="'lokal' KMS"):
        open_blob(KMS, bytes(blob), CTX)
