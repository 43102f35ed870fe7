"""Paymium request signing and nonces."""

from __future__ import annotations

import asyncio
import pickle
import threading

import httpx
import pytest

from txsync.connectors.paymium import NonceSource, PaymiumAuth, shared_nonces
from txsync.connectors.paymium.sandbox import KEY, SECRET, PaymiumSandbox
from txsync.errors import ConfigurationError

SECRET_T = "paymium-test-secret"


class _FixedNonces(NonceSource):
    def __init__(self, *values: int) -> None:
        super().__init__()
        self._values = list(values)

    def next(self, api_key: str) -> int:
        return self._values.pop(0)


def _signed(auth: PaymiumAuth, request: httpx.Request) -> httpx.Request:
    flow = auth.auth_flow(request)
    return next(flow)


def test_signature_is_pinned_for_a_get_with_a_query() -> None:
    """HMAC-SHA256(secret, nonce + full URL with '?query'), lower-case hex, fixed inputs."""
    auth = PaymiumAuth("token-1", SECRET_T, nonces=_FixedNonces(1700000000000001))
    request = _signed(auth, httpx.Request("GET", "https://paymium.com/api/v1/user/orders?offset=0&limit=50"))
    assert request.headers["Api-Key"] == "token-1"
    assert request.headers["Api-Nonce"] == "1700000000000001"
    assert request.headers["Api-Signature"] == (
        "9a3ad50a90a6d931808d76b67028fa72a81436e8181fa90ad07ace42ffd93b60"
    )


def test_signature_is_pinned_without_query_and_with_a_body() -> None:
    auth = PaymiumAuth("token-1", SECRET_T, nonces=_FixedNonces(1700000000000001, 1700000000000002))
    plain = _signed(auth, httpx.Request("GET", "https://paymium.com/api/v1/user"))
    assert plain.headers["Api-Signature"] == "0bb32bf99eb78a3b7ae41cf34cefbadd95faf12b9ec3f02349a71b4285214138"
    posted = _signed(
        auth,
        httpx.Request("POST", "https://paymium.com/api/v1/user/orders", content=b'{"type":"LimitOrder"}'),
    )
    assert posted.headers["Api-Signature"] == (
        "384dbecc43b82d83d53a7192a29bc35f1796615a29633d4551c76888b060a3b4"
    )
    assert auth.signature(1700000000000002, "https://paymium.com/api/v1/user/orders", b'{"type":"LimitOrder"}') == (
        posted.headers["Api-Signature"]
    )


def test_nonces_strictly_increase_even_with_a_frozen_or_backward_clock() -> None:
    times = iter([1_000, 1_000, 999, 5_000, 5_000])
    source = NonceSource(clock=lambda: next(times))
    assert [source.next("k") for _ in range(5)] == [1_000, 1_001, 1_002, 5_000, 5_001]


def test_nonces_are_per_key_and_shared_by_every_auth_of_a_key() -> None:
    source = NonceSource(clock=lambda: 10)
    first = PaymiumAuth("key-a", "s", nonces=source)
    second = PaymiumAuth("key-a", "s", nonces=source)  # another connection with the same token
    other = PaymiumAuth("key-b", "s", nonces=source)
    seen = []
    for auth in (first, second, first, other):
        request = _signed(auth, httpx.Request("GET", "https://paymium.com/api/v1/user"))
        seen.append((request.headers["Api-Key"], int(request.headers["Api-Nonce"])))
    assert seen == [("key-a", 10), ("key-a", 11), ("key-a", 12), ("key-b", 10)]
    assert "key-a" not in repr(source)


def test_nonces_are_unique_across_threads() -> None:
    source = NonceSource(clock=lambda: 42)
    out: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        values = [source.next("k") for _ in range(200)]
        with lock:
            out.extend(values)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(out)) == 800


def test_a_restarted_process_starts_above_the_previous_nonces() -> None:
    """Nonces are microsecond time, so a fresh source (a new process) is above an older one's."""
    before = shared_nonces().next("restart-key")
    fresh = NonceSource()
    assert fresh.next("restart-key") > before


def test_secrets_stay_hidden() -> None:
    auth = PaymiumAuth(KEY, SECRET)
    assert KEY not in repr(auth) and SECRET not in repr(auth)
    assert set(auth.secret_values) == {KEY, SECRET}
    with pytest.raises(TypeError):
        pickle.dumps(auth)
    with pytest.raises(ConfigurationError):
        PaymiumAuth("", SECRET)


def _send(sandbox: PaymiumSandbox, request: httpx.Request) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=sandbox.transport()) as client:
            return await client.send(request)

    return asyncio.run(go())


def test_the_sandbox_accepts_the_documented_form_only() -> None:
    """The sandbox verifies '?query' in the signed URL; the form without '?' is refused."""
    sandbox = PaymiumSandbox()
    auth = PaymiumAuth(KEY, SECRET, nonces=NonceSource())
    url = "https://paymium.com/api/v1/user/orders?offset=0&limit=5"
    ok = _send(sandbox, _signed(auth, httpx.Request("GET", url)))
    assert ok.status_code == 200 and len(ok.json()) == 5

    nonce = NonceSource().next(KEY) + 10
    wrong = httpx.Request("GET", url)
    wrong.headers.update(
        {
            "Api-Key": KEY,
            "Api-Nonce": str(nonce),
            "Api-Signature": auth.signature(nonce, url.replace("?", "")),
        }
    )
    refused = _send(sandbox, wrong)
    assert refused.status_code == 401
    assert refused.json() == {"errors": ["Invalid API signature"]}


def test_the_sandbox_refuses_a_repeated_nonce() -> None:
    sandbox = PaymiumSandbox()
    auth = PaymiumAuth(KEY, SECRET, nonces=_FixedNonces(5_000, 5_000, 4_999))
    url = "https://paymium.com/api/v1/user"
    assert _send(sandbox, _signed(auth, httpx.Request("GET", url))).status_code == 200
    for _ in range(2):
        again = _send(sandbox, _signed(auth, httpx.Request("GET", url)))
        assert again.status_code == 401
        assert "nonce" in again.json()["errors"][0]
    assert again.headers["X-Ratelimit-Limit"] == "86400"
