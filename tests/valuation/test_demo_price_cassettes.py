"""The demo's price cassettes (``cassettes/prices/demo/*.json.gz``) and the transport replaying them
without vcrpy: clean of keys, every request answered in recorded order, a miss refused or counted."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import httpx
import pytest

from helpers.price_cassettes import PRICES, SECRETS
from txsync.testing.cassettes import NetworkDisabledError, ReadableYaml, find_cassette_leaks
from txsync.testing.replay import cassette_transport, load_cassette

DEMO = PRICES / "demo"


@pytest.mark.parametrize("name", ["binance_account.json.gz", "demo_account.json.gz"])
def test_the_demo_price_cassettes_hold_no_key_and_read_as_txsync_cassettes(name: str, tmp_path: Path) -> None:
    document = load_cassette(DEMO / name)
    interactions = document["interactions"]
    assert len(interactions) > 50
    hosts = {i["request"]["uri"].split("/")[2] for i in interactions}
    assert hosts <= {"api.binance.com", "pro-api.coingecko.com", "data-api.ecb.europa.eu"}
    # the same checks as every YAML cassette, on the document written out as one
    (tmp_path / "demo.yaml").write_text(ReadableYaml.serialize(document), encoding="utf-8")
    assert find_cassette_leaks(tmp_path, SECRETS, scrub_headers=("x-cg-demo-api-key", "x-cg-pro-api-key")) == []


def _cassette(tmp_path: Path, *bodies: str, compressed: bool = True) -> Path:
    interactions = [
        {"request": {"method": "GET", "uri": "https://api.binance.com/api/v3/klines?symbol=BTCEUR&limit=1",
                     "body": "", "headers": {}},
         "response": {"status": {"code": 200, "message": "OK"},
                      "headers": {"content-type": ["application/json"], "content-length": ["999"]},
                      "body": {"string": body}}}
        for body in bodies
    ]  # fmt: skip
    text = json.dumps({"interactions": interactions, "version": 1})
    path = tmp_path / ("c.json.gz" if compressed else "c.json")
    path.write_bytes(gzip.compress(text.encode()) if compressed else text.encode())
    return path


def test_the_replay_answers_in_recorded_order_whatever_the_query_order(tmp_path: Path) -> None:
    transport = cassette_transport(_cassette(tmp_path, "[1]", "[2]"))

    async def get() -> list[str]:
        async with httpx.AsyncClient(transport=transport) as client:
            url = "https://api.binance.com/api/v3/klines?limit=1&symbol=BTCEUR"  # the query reordered
            return [(await client.get(url)).text for _ in range(3)]

    assert asyncio.run(get()) == ["[1]", "[2]", "[2]"]  # the last answer repeats
    assert (transport.served, transport.misses) == (3, 0)


def test_a_request_not_in_the_cassette_is_refused_or_given_to_the_fallback(tmp_path: Path) -> None:
    path = _cassette(tmp_path, "[1]", compressed=False)
    other = "https://api.binance.com/api/v3/klines?symbol=ETHEUR&limit=1"
    with pytest.raises(NetworkDisabledError, match="not in the cassette"):
        cassette_transport(path).handle_request(httpx.Request("GET", other))
    fallback = cassette_transport(path, fallback=lambda _r: httpx.Response(418))
    assert fallback.handle_request(httpx.Request("GET", other)).status_code == 418
    assert fallback.misses == 1
