"""``docs/writing-a-connector.md`` stays true: its imports import, and the sandbox facts it lists (test
keys, addresses, clocks, hosts) are the sandboxes' own."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

GUIDE = (Path(__file__).resolve().parents[2] / "docs" / "writing-a-connector.md").read_text()


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", GUIDE, re.S)


def test_the_import_blocks_import() -> None:
    blocks = [
        block
        for block in python_blocks()
        if block.startswith("from ")
        and all(line.startswith(("from ", "    ", ")")) or not line.strip() for line in block.splitlines())
    ]
    assert len(blocks) >= 3  # the connector's, the tests', the sandboxes'
    for block in blocks:
        exec(compile(block, "writing-a-connector.md", "exec"), {})  # noqa: S102 - our own documentation


def test_the_sandbox_table_matches_the_sandboxes() -> None:
    from txsync.connectors.binance.sandbox import NOW as BINANCE_NOW
    from txsync.connectors.bitcoin.sandbox import BIP84_ZPUB, FLAVORS, EsploraSandbox
    from txsync.connectors.bitstamp.sandbox import BITSTAMP_HOST
    from txsync.connectors.bitstamp.sandbox import NOW as BITSTAMP_NOW
    from txsync.connectors.demo.sandbox import DEMO_HOST
    from txsync.connectors.demo.sandbox import NOW as DEMO_NOW
    from txsync.connectors.evm.sandbox import ADDRESS_A, ADDRESS_B, ETHERSCAN_HOST, EtherscanSandbox
    from txsync.connectors.paymium.sandbox import HOST as PAYMIUM_HOST
    from txsync.connectors.paymium.sandbox import NOW as PAYMIUM_NOW

    def shown(moment: datetime) -> str:
        assert moment.tzinfo is UTC
        return moment.strftime("%Y-%m-%d %H:%M UTC")

    for moment in (BINANCE_NOW, BITSTAMP_NOW, PAYMIUM_NOW, DEMO_NOW, EsploraSandbox().now(), EtherscanSandbox().now):
        assert shown(moment) in GUIDE
    for value in (ADDRESS_A, ADDRESS_B, BITSTAMP_HOST, DEMO_HOST, ETHERSCAN_HOST, PAYMIUM_HOST, BIP84_ZPUB[:40]):
        assert value in GUIDE
    for flavor in FLAVORS.values():
        assert str(flavor["base_url"]).removeprefix("https://") in GUIDE
