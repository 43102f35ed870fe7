"""The demo's valuation: every transaction and every balance of the recorded account valued in EUR,
offline, from the recorded price cassette.

The price cassettes (``cassettes/prices/demo/<source>_account.json.gz`` in the source tree: txsync
cassettes as compact JSON, compressed) were recorded
from the built-in price sandboxes (Binance klines, CoinGecko, the ECB, all over one synthetic market)
while valuing the whole recorded account and its balances (``txsync demo --prices record``); the demo
replays them without vcrpy (:func:`txsync.testing.replay.cassette_transport`). Outside a source tree
(an installed wheel holds no cassettes), or with ``--prices sandbox``, the sandboxes answer directly:
the same answers, since the cassettes were recorded from them. A request a cassette does not hold
(a ledger the recording did not see, such as an interrupted demo) is answered by the sandboxes too,
and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

import txsync
from txsync.cli._context import CliContext
from txsync.cli._render import table
from txsync.exports._base import amount_text

__all__ = ["DEMO_CURRENCY", "PRICE_CASSETTES", "value_demo"]

#: The demo owner's base currency.
DEMO_CURRENCY = "EUR"
#: Where the demo's price cassettes are in a source tree.
PRICE_CASSETTES = Path(txsync.__file__).resolve().parents[2] / "cassettes" / "prices" / "demo"


def _transport(
    stack: contextlib.ExitStack, sandboxes: Any, cassette: Path, mode: str
) -> tuple[httpx.AsyncBaseTransport, str, Any]:
    """The price transport of ``mode``, a description of it, and the replaying transport (or None)."""
    if mode == "record":
        from txsync.testing.cassettes import ReadableYaml, cassette_vcr
        from txsync.testing.replay import load_cassette
        from txsync.valuation.sources.coingecko.sandbox import DEMO_KEY, PRO_KEY

        # vcrpy writes txsync YAML; the cassette is kept as the same document in compact JSON,
        # gzip-compressed: 10 MB of YAML (mostly CoinGecko's hourly ranges) load in 2 s, the JSON in
        # a tenth of that, and 1.3 MB sit in the tree. New episodes are appended.
        plain = cassette.parent / (cassette.name.split(".")[0] + ".yaml")
        cassette.parent.mkdir(parents=True, exist_ok=True)
        if cassette.is_file():
            plain.write_text(ReadableYaml.serialize(load_cassette(cassette)), encoding="utf-8")

        def compress() -> None:
            document = ReadableYaml.deserialize(plain.read_text(encoding="utf-8"))
            text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
            cassette.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
            plain.unlink()

        stack.callback(compress)  # after the recorder has written the file (LIFO)
        recorder = cassette_vcr(cassette.parent, "new_episodes", secrets=(DEMO_KEY, PRO_KEY))
        stack.enter_context(recorder.use_cassette(plain.name))
        return sandboxes.transport(), f"recording {cassette.name} from the price sandboxes", None
    if mode == "cassette" and cassette.is_file():
        try:
            from txsync.testing.replay import cassette_transport
        except ImportError:  # the testing extra (PyYAML) is not installed
            pass
        else:
            replay = cassette_transport(cassette, fallback=sandboxes.handle)
            return replay, f"price cassette {cassette.name}, offline", replay
    return sandboxes.transport(), "the built-in price sandboxes, offline", None


def value_demo(
    cli: CliContext, store: Any, account_id: str, source: str, clock: Callable[[], datetime], mode: str
) -> dict[str, Any]:
    """Value the demo account's transactions (kept in the store) and balances; print and return it."""
    from txsync.valuation import value_balances, value_owner
    from txsync.valuation.sources.sandboxes import PriceSandboxes

    owner = store.account_owner(account_id)
    if store.base_currency(owner) is None:
        store.set_base_currency(owner, DEMO_CURRENCY)
    connector_id = store.get_account(account_id).connector_id
    sandboxes = PriceSandboxes(clock=clock)
    with contextlib.ExitStack() as stack:
        cassette = PRICE_CASSETTES / f"{source}_account.json.gz"
        transport, origin, replay = _transport(stack, sandboxes, cassette, mode)
        policy = sandboxes.policy(transport=transport)

        async def work() -> tuple[Any, Any]:
            try:
                run = await value_owner(store, owner, policy, account_ids=[account_id], clock=clock)
                balances = await value_balances(
                    store.balances(account_id), connector_id, policy, store.price_cache(),
                    currency=run.report.currency, at=clock(),
                )  # fmt: skip
            finally:
                await policy.aclose()
            return run, balances

        run, balances = asyncio.run(work())
    report = run.report
    priced = [b.value for b in balances if b.value is not None]
    total = sum(priced, Decimal(0))
    data: dict[str, Any] = {
        "currency": report.currency,
        "prices": origin,
        "not_in_cassette": replay.misses if replay is not None else None,
        "valued": report.valued,
        "pending": report.pending,
        "unpriceable": report.unpriceable,
        "overridden": report.overridden,
        "report": report.to_dict(),
        "balances": [b.to_json() for b in balances],
        "balances_total": amount_text(total),
        "balances_without_value": len(balances) - len(priced),
    }
    if cli.json:
        return data
    cli.print(f"\nValuation in {report.currency} (prices: {origin}):")
    cli.print(f"  {report.transactions} transactions: {report.valued} valued, {report.pending} pending, "
              f"{report.unpriceable} unpriceable, {report.overridden} overridden")
    sent = ", ".join(f"{k} {v}" for k, v in sorted(report.requests.items())) or "none (all in the cache)"
    cli.print(f"  price requests: {sent}")
    if replay is not None and replay.misses:
        cli.print(f"  {replay.misses} price requests were not in the cassette (answered by the sandboxes)")
    for reason, count in report.unpriceable_reasons.items():
        cli.print(f"  unpriceable ({count}): {reason}")
    at = balances[0].at if balances else None
    out = table("asset", "balance", f"value {report.currency}", "price", "source",
                right=("balance", f"value {report.currency}", "price"))
    out.title = "Balances' value" + (f" at {at:%Y-%m-%d %H:%M} UTC" if at else "")
    for b in balances:
        out.add_row(
            b.asset, amount_text(b.amount),
            f"{b.value:,.2f}" if b.value is not None else b.status,
            f"{b.unit_price:,.2f}" if b.unit_price is not None else "",
            f"{b.source} {b.pair}" if b.source else (b.reason or "")[:60],
        )  # fmt: skip
    cli.print(out)
    without = data["balances_without_value"]
    note = f" ({without} balances without a value)" if without else ""
    cli.print(f"  total: {total:,.2f} {report.currency}{note}")
    return data
