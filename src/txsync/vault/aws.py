"""AWS KMS as the vault's KMS (the ``aws`` extra: ``pip install 'txsync[aws]'``).

Data keys are wrapped with ``Encrypt`` under the primary KMS key (key id, ARN or alias), with the
seal context as ``EncryptionContext`` (so AWS binds and audits every unwrap to one connection and
field), unwrapped with ``Decrypt`` pinned to the key id the blob names, and re-wrapped with
``ReEncrypt`` so the data key never leaves KMS during a rotation.

AWS rotates a key's backing material itself, transparently; a txsync *version* here is a KMS key:
rotating means naming a new primary key and keeping the old one in ``previous`` until every blob has
been re-wrapped, then dropping it from ``previous`` (retiring it: blobs that still need it fail closed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

from txsync.errors import ConfigurationError, KeyUnavailableError, TamperedError, VaultError
from txsync.vault.kms import KeyRef, KeyVersionInfo, WrappedKey

__all__ = ["AwsKMS"]


class AwsKMS:
    """The vault's KMS backed by AWS KMS (backend id ``"aws-kms"``).

    ``key_id`` is the primary key; ``previous`` the keys still accepted for unwrapping; ``client`` a
    boto3 KMS client (one is made from ``region`` and the usual AWS configuration otherwise).
    """

    backend_id = "aws-kms"

    def __init__(
        self, key_id: str, *, previous: Iterable[str] = (), client: Any = None, region: str | None = None
    ) -> None:
        if not key_id:
            raise ConfigurationError("AwsKMS needs a KMS key id, ARN or alias")
        if client is None:
            try:
                import boto3  # type: ignore[import-untyped]
            except ImportError:
                raise ConfigurationError(
                    "the AWS KMS backend needs the aws extra: pip install 'txsync[aws]'"
                ) from None
            client = boto3.client("kms", region_name=region)
        self._client = client
        self.key_id = key_id
        self.previous = tuple(k for k in previous if k != key_id)

    def _ref(self, key_id: str) -> KeyRef:
        # KMS names its key in every ciphertext; the version is the key itself.
        return KeyRef(self.backend_id, key_id, "kms")

    def primary(self) -> KeyRef:
        """The primary KMS key."""
        return self._ref(self.key_id)

    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

        try:
            result: dict[str, Any] = getattr(self._client, operation)(**kwargs)
            return result
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
            if code in {"InvalidCiphertextException", "IncorrectKeyException"}:
                raise TamperedError(
                    f"AWS KMS refused the wrapped data key ({code}): altered, or sealed for another "
                    "connection or field"
                ) from None
            if code in {"NotFoundException", "DisabledException", "KMSInvalidStateException",
                        "AccessDeniedException"}:
                raise KeyUnavailableError(f"AWS KMS key is not usable ({code})") from None
            raise VaultError(f"AWS KMS {operation} failed ({code})") from None
        except BotoCoreError as exc:
            raise VaultError(f"AWS KMS {operation} failed ({type(exc).__name__})") from None

    def wrap(self, data_key: bytes, context: Mapping[str, str]) -> WrappedKey:
        """``Encrypt`` the data key under the primary key."""
        out = self._call(
            "encrypt", KeyId=self.key_id, Plaintext=bytes(data_key), EncryptionContext=dict(context)
        )
        return WrappedKey(self.primary(), bytes(out["CiphertextBlob"]))

    def _accepts(self, ref: KeyRef) -> None:
        if ref.backend != self.backend_id:
            raise KeyUnavailableError(f"blob was sealed by the {ref.backend!r} KMS, not AWS KMS")
        if ref.key_id != self.key_id and ref.key_id not in self.previous:
            raise KeyUnavailableError(
                f"blob needs AWS KMS key {ref.key_id}, which is neither the primary key nor a previous "
                "one (retired?)"
            )

    def unwrap(self, wrapped: WrappedKey, context: Mapping[str, str]) -> bytes:
        """``Decrypt`` the data key, pinned to the key the blob names."""
        self._accepts(wrapped.key)
        out = self._call(
            "decrypt", CiphertextBlob=wrapped.blob, EncryptionContext=dict(context), KeyId=wrapped.key.key_id
        )
        return bytes(out["Plaintext"])

    def rewrap(self, wrapped: WrappedKey, context: Mapping[str, str]) -> WrappedKey:
        """``ReEncrypt`` under the primary key: the data key never leaves KMS."""
        self._accepts(wrapped.key)
        out = self._call(
            "re_encrypt", CiphertextBlob=wrapped.blob, SourceEncryptionContext=dict(context),
            SourceKeyId=wrapped.key.key_id, DestinationKeyId=self.key_id,
            DestinationEncryptionContext=dict(context),
        )
        return WrappedKey(self.primary(), bytes(out["CiphertextBlob"]))

    def versions(self) -> list[KeyVersionInfo]:
        """The primary key, then the previous ones."""
        return [KeyVersionInfo(self.primary(), True, False)] + [
            KeyVersionInfo(self._ref(k), False, False) for k in self.previous
        ]

    def __repr__(self) -> str:
        return f"AwsKMS(key_id={self.key_id!r}, previous={list(self.previous)!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("AwsKMS holds a live AWS client and cannot be pickled")
