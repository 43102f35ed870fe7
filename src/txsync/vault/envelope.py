"""The sealed-blob format and envelope encryption: :func:`seal`, :func:`open_blob`, :func:`rewrap`.

Each plaintext is encrypted with a fresh random AES-256-GCM data key and a random 96-bit nonce; the
data key is wrapped by a :class:`~txsync.vault.kms.KMS`. A blob is self-describing::

    magic   "TXSV"                                  4 bytes
    format  version (1)                             1 byte
    alg     algorithm (1 = AES-256-GCM)             1 byte
    backend KMS backend id        u8 length + ASCII
    key_id  master key id         u16 length + UTF-8
    version master key version    u16 length + UTF-8
    wrapped wrapped data key      u16 length + bytes
    nonce                                          12 bytes
    sealed  ciphertext + 16-byte GCM tag           the rest

The payload's associated data is the magic, format and algorithm followed by the canonical encoding
of the :class:`SealContext` (owner, connection, connector, field): a blob copied to another
connection or field does not open. The key reference and the wrapped key are *not* part of it, so a
rotation re-wraps the data key without touching the payload; they are protected instead by the KMS's
own authenticated wrap, itself bound to the same context.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from txsync import jsonutil
from txsync.errors import SealedFormatError, TamperedError
from txsync.vault.kms import KMS, KeyRef, WrappedKey

__all__ = [
    "ALG_AES_256_GCM",
    "FORMAT_VERSION",
    "MAGIC",
    "BlobHeader",
    "SealContext",
    "key_of",
    "open_blob",
    "read_header",
    "rewrap",
    "seal",
]

MAGIC = b"TXSV"
FORMAT_VERSION = 1
ALG_AES_256_GCM = 1
_NONCE = 12
_TAG = 16
_KEY = 32


@dataclass(frozen=True, slots=True)
class SealContext:
    """Where a sealed value belongs; rebuilt from the row when opening, never read from the blob."""

    owner_id: str
    connection_id: str
    connector_id: str
    field: str

    def as_mapping(self) -> dict[str, str]:
        """The context as a KMS encryption context."""
        return {
            "txsync:owner": self.owner_id,
            "txsync:connection": self.connection_id,
            "txsync:connector": self.connector_id,
            "txsync:field": self.field,
        }

    def encode(self) -> bytes:
        """Canonical bytes (sorted JSON) of the context."""
        return jsonutil.dumps(dict(sorted(self.as_mapping().items()))).encode()


@dataclass(frozen=True, slots=True)
class BlobHeader:
    """A blob's parsed header: format, algorithm, the wrapped data key and its key version, nonce."""

    format_version: int
    algorithm: int
    wrapped: WrappedKey
    nonce: bytes
    body_offset: int

    @property
    def key(self) -> KeyRef:
        """The master key version the data key is wrapped under."""
        return self.wrapped.key


def _aad(context: SealContext, version: int = FORMAT_VERSION, algorithm: int = ALG_AES_256_GCM) -> bytes:
    return MAGIC + bytes((version, algorithm)) + context.encode()


def _pack(header_key: KeyRef, wrapped: bytes, nonce: bytes, body: bytes) -> bytes:
    backend = header_key.backend.encode("ascii")
    key_id = header_key.key_id.encode()
    version = header_key.version.encode()
    if len(backend) > 0xFF or max(len(key_id), len(version), len(wrapped)) > 0xFFFF:
        raise SealedFormatError("a key reference or wrapped key is too long for the blob format")
    return b"".join((
        MAGIC, bytes((FORMAT_VERSION, ALG_AES_256_GCM)),
        struct.pack(">B", len(backend)), backend,
        struct.pack(">H", len(key_id)), key_id,
        struct.pack(">H", len(version)), version,
        struct.pack(">H", len(wrapped)), wrapped,
        nonce, body,
    ))


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, size: int, what: str) -> bytes:
        if size < 0 or self.at + size > len(self.data):
            raise SealedFormatError(f"sealed blob is truncated (in its {what})")
        chunk = self.data[self.at:self.at + size]
        self.at += size
        return chunk

    def prefixed(self, width: str, what: str) -> bytes:
        (size,) = struct.unpack(width, self.take(struct.calcsize(width), what))
        return self.take(int(size), what)


def read_header(blob: bytes) -> BlobHeader:
    """Parse a blob's header; :class:`SealedFormatError` if it is not a blob this version reads."""
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise SealedFormatError("a sealed blob must be bytes")
    reader = _Reader(bytes(blob))
    if reader.take(len(MAGIC), "magic") != MAGIC:
        raise SealedFormatError("not a txsync sealed blob (bad magic)")
    version, algorithm = reader.take(2, "format")
    if version != FORMAT_VERSION:
        raise SealedFormatError(f"sealed blob format version {version} is not supported (this reads 1)")
    if algorithm != ALG_AES_256_GCM:
        raise SealedFormatError(f"sealed blob algorithm {algorithm} is not supported")
    try:
        backend = reader.prefixed(">B", "KMS backend").decode("ascii")
        key_id = reader.prefixed(">H", "key id").decode()
        key_version = reader.prefixed(">H", "key version").decode()
    except UnicodeDecodeError:
        raise SealedFormatError("sealed blob header is garbled (key reference)") from None
    wrapped = reader.prefixed(">H", "wrapped data key")
    nonce = reader.take(_NONCE, "nonce")
    if len(reader.data) - reader.at < _TAG:
        raise SealedFormatError("sealed blob is truncated (in its ciphertext)")
    return BlobHeader(
        format_version=version, algorithm=algorithm,
        wrapped=WrappedKey(KeyRef(backend, key_id, key_version), wrapped),
        nonce=nonce, body_offset=reader.at,
    )


def seal(kms: KMS, plaintext: bytes, context: SealContext) -> bytes:
    """Encrypt ``plaintext`` under a fresh data key wrapped by ``kms``'s primary key version."""
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(_NONCE)
    body = AESGCM(data_key).encrypt(nonce, bytes(plaintext), _aad(context))
    wrapped = kms.wrap(data_key, context.as_mapping())
    return _pack(wrapped.key, wrapped.blob, nonce, body)


def open_blob(kms: KMS, blob: bytes, context: SealContext) -> bytes:
    """The plaintext of ``blob``, which must have been sealed for exactly ``context``.

    Raises :class:`SealedFormatError` (garbled, truncated, unknown version),
    :class:`~txsync.errors.KeyUnavailableError` (its key version is missing or retired) or
    :class:`TamperedError` (altered, or sealed for another connection or field).
    """
    header = read_header(blob)
    data_key = kms.unwrap(header.wrapped, context.as_mapping())
    if len(data_key) != _KEY:
        raise TamperedError("the unwrapped data key has the wrong length")
    try:
        return AESGCM(data_key).decrypt(header.nonce, bytes(blob[header.body_offset:]), _aad(context))
    except InvalidTag:
        raise TamperedError(
            "sealed value failed authentication: altered, or sealed for another connection or field"
        ) from None


def rewrap(kms: KMS, blob: bytes, context: SealContext) -> bytes:
    """``blob`` with its data key re-wrapped under ``kms``'s primary version; the payload (nonce,
    ciphertext and tag) is carried over byte for byte, never decrypted."""
    header = read_header(blob)
    new = kms.rewrap(header.wrapped, context.as_mapping())
    return _pack(new.key, new.blob, header.nonce, bytes(blob[header.body_offset:]))


def key_of(blob: bytes) -> KeyRef:
    """The master key version ``blob`` needs."""
    return read_header(blob).key

