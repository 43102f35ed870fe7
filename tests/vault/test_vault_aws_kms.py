"""The AWS KMS backend through moto's KMS mock: the real boto3 calls run, nothing leaves the process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from txsync.errors import KeyUnavailableError, TamperedError
from txsync.models import Credential
from txsync.store import SqliteStore
from txsync.vault import SealContext, VaultCredentials, key_usage, open_blob, read_header, rewrap_all, seal
from txsync.vault.aws import AwsKMS

CTX = SealContext("alice", "con_1", "binance", "api_secret")


@pytest.fixture
def kms_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("kms", region_name="eu-west-1")


def new_key(client: Any) -> str:
    return str(client.create_key(Description="txsync test")["KeyMetadata"]["Arn"])


def test_seal_and_open_through_aws_kms(kms_client: Any) -> None:
    kms = AwsKMS(new_key(kms_client), client=kms_client)
    blob = seal(kms, b"the secret", CTX)
    header = read_header(blob)
    assert header.key.backend == "aws-kms" and header.key.key_id == kms.key_id
    assert open_blob(kms, blob, CTX) == b"the secret"


def test_the_encryption_context_binds_the_wrapped_key(kms_client: Any) -> None:
    kms = AwsKMS(new_key(kms_client), client=kms_client)
    blob = seal(kms, b"the secret", CTX)
    with pytest.raises(TamperedError):
        open_blob(kms, blob, SealContext("alice", "con_2", "binance", "api_secret"))


def test_rotation_to_a_new_kms_key_with_reencrypt(kms_client: Any, tmp_path: Any) -> None:
    old_key, new = new_key(kms_client), new_key(kms_client)
    store = SqliteStore(tmp_path / "l.sqlite3")
    connection = store.add_connection(store.add_account("alice", "demo").id)
    credential = Credential(connector_id="demo", secrets={"api_key": "key-123456", "api_secret": "secret-123456"})
    VaultCredentials(store, AwsKMS(old_key, client=kms_client)).put(connection, credential)

    rotating = AwsKMS(new, previous=[old_key], client=kms_client)
    report = rewrap_all(store, rotating)
    assert report.rewrapped == 2 and not report.failed
    assert {ref.key_id: n for ref, n in key_usage(store).items()} == {new: 2}
    # the old key is dropped (retired): everything still opens with the new one alone
    opened = VaultCredentials(store, AwsKMS(new, client=kms_client)).open(connection)
    assert opened.secret("api_secret") == "secret-123456"
    store.close()


def test_a_blob_under_a_retired_key_fails_closed(kms_client: Any) -> None:
    old_key, new = new_key(kms_client), new_key(kms_client)
    blob = seal(AwsKMS(old_key, client=kms_client), b"x", CTX)
    with pytest.raises(KeyUnavailableError, match="neither the primary key nor a previous one"):
        open_blob(AwsKMS(new, client=kms_client), blob, CTX)


def test_a_missing_kms_key_is_unavailable(kms_client: Any) -> None:
    kms = AwsKMS("arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000", client=kms_client)
    with pytest.raises(KeyUnavailableError, match="not usable"):
        seal(kms, b"x", CTX)
