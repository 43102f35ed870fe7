"""``txsync value``: a valuation pass over the owners' ledgers, kept in the store; ``--transaction``
shows one transaction's value with its provenance (the provenance query).

Prices come from the installed price sources (:func:`price_policy`: Binance klines, then CoinGecko; the
ECB for FX) through the store's price cache, so a second pass sends nothing it already has. Values are
kept in each owner's base currency (``--base-currency`` sets it; EUR by default); ``--currency``
shows them in another currency by the ECB's reference rates only, without storing them and without
fetching any crypto price again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import click

from txsync.cli._context import CliContext, data_options, pass_cli
from txsync.cli._errors import EXIT_USAGE, CliError
from txsync.exports import transaction_json
from txsync.valuation import PricePolicy, TransactionValuation, ValuationRun, default_policy

__all__ = ["price_policy", "value"]


def price_policy(cli: CliContext, engine: Any) -> PricePolicy:
    """The price policy of ``txsync value`` (the installed sources on the network, sharing the
    engine's rate limiters); hosts and tests replace it."""
    return default_policy(engine)


def _owners(store: Any, owner: str | None) -> list[str]:
    owners: list[str] = store.owner_ids()
    if owner is None:
        return owners
    if owner not in owners:
        known = ", ".join(owners) or "none"
        raise CliError(f"no owner {owner!r} in this store (owners: {known})", EXIT_USAGE)
    return [owner]


async def _pass(
    store: Any, owners: Sequence[str], policy: PricePolicy, currency: str | None, revalue: bool
) -> list[tuple[str, ValuationRun, list[TransactionValuation] | None]]:
    from txsync.valuation import value_owner, values_in

    done: list[tuple[str, ValuationRun, list[TransactionValuation] | None]] = []
    try:
        for owner in owners:
            run = await value_owner(store, owner, policy, revalue=revalue)
            shown = None
            if currency is not None and currency.upper() != run.report.currency:
                shown = await values_in(store, run.valuations, currency, policy)
            done.append((owner, run, shown))
    finally:
        await policy.aclose()
    return done


def _total(valuations: Sequence[TransactionValuation]) -> dict[str, Any]:
    """How many are valued (or overridden) and how many have no amount in that currency."""
    amounts = [v.amount for v in valuations if v.amount is not None]
    return {"with_amount": len(amounts), "without_amount": len(valuations) - len(amounts)}


@click.command()
@click.option("--owner", default=None, help="Only this owner (default: every owner in the store).")
@click.option("--currency", default=None, metavar="CODE",
              help="Show the values in this currency (ECB reference rates; nothing fetched again).")
@click.option("--base-currency", default=None, metavar="CODE",
              help="Set the owner's base currency first (needs --owner); values are kept in it.")
@click.option("--revalue", is_flag=True,
              help="Value final valuations again too (after adding a price source or an asset mapping).")
@click.option("--transaction", "transaction_id", default=None, metavar="ID",
              help="Show one transaction's value and its provenance (no pass is run).")
@data_options
@pass_cli
def value(cli: CliContext, owner: str | None, currency: str | None, base_currency: str | None,
          revalue: bool, transaction_id: str | None) -> None:
    """Value every transaction in the owner's currency, with its evidence, and report how many are
    valued, pending (retried by the next run), unpriceable and overridden.

    --json prints {"owners": [{"owner_id", "currency", "report": {...}}]}; with --transaction, the
    transaction object with its "value" (amount, currency, status, method, source, the price and FX
    evidence, each leg's value) and the raw records it was built from."""
    store = cli.store()
    if transaction_id is not None:
        _show(cli, store, transaction_id, currency)
        return
    if base_currency is not None:
        if owner is None:
            raise CliError("--base-currency needs --owner", EXIT_USAGE)
        _owners(store, owner)
        store.set_base_currency(owner, base_currency)
    owners = _owners(store, owner)
    engine = cli.engine(store)
    policy = price_policy(cli, engine)
    done = asyncio.run(_pass(store, owners, policy, currency, revalue))
    if cli.json:
        data = []
        for owner_id, run, shown in done:
            item: dict[str, Any] = {"owner_id": owner_id, "currency": run.report.currency,
                                    "report": run.report.to_dict()}
            if shown is not None:
                item["shown_in"] = {"currency": currency.upper() if currency else None, **_total(shown)}
            data.append(item)
        cli.emit_json({"owners": data})
        return
    if not done:
        cli.echo("No owners in this store.", err=True)
    for owner_id, run, shown in done:
        r = run.report
        cli.echo(f"Owner {owner_id} ({r.currency}): {r.transactions} transactions: {r.valued} valued, "
                 f"{r.pending} pending, {r.unpriceable} unpriceable, {r.overridden} overridden")
        sent = ", ".join(f"{k} {v}" for k, v in sorted(r.requests.items())) or "none"
        cli.echo(f"  requests: {sent}; kept as stored: {r.kept}; {r.duration_seconds:.1f} s")
        if r.pending:
            cli.echo("  pending ones are valued by a later run, once their prices are published")
        for asset, legs in r.unknown_assets.items():
            cli.echo(f"  unknown asset {asset} ({legs} legs): no mapping names it, so it is not priced")
        for reason, count in r.unpriceable_reasons.items():
            cli.echo(f"  unpriceable ({count}): {reason}")
        if shown is not None and currency is not None:
            t = _total(shown)
            cli.echo(f"  in {currency.upper()} (ECB reference rates): {t['with_amount']} with an amount, "
                     f"{t['without_amount']} without")


def _show(cli: CliContext, store: Any, transaction_id: str, currency: str | None) -> None:
    """The provenance query: one transaction, its value and evidence, its raw records."""
    from txsync.cli.ledger import value_lookup

    tx = store.get_transaction(transaction_id)
    valuation = store.valuation_of(transaction_id)
    if valuation is not None and currency is not None and currency.upper() != valuation.currency:
        from txsync.valuation import values_in

        engine = cli.engine(store)
        policy = price_policy(cli, engine)

        async def convert() -> list[TransactionValuation]:
            try:
                return await values_in(store, [valuation], currency, policy)
            finally:
                await policy.aclose()

        valuation = asyncio.run(convert())[0]
    lookup = value_lookup(store)
    data = transaction_json(tx, value=lookup(tx) if lookup else None, with_value=True)
    if valuation is not None and (data["value"] or {}).get("status") != "override":
        data["value"] = valuation.value_json()
        data["value"]["legs"] = [leg.to_dict() for leg in valuation.legs]
    data["raws"] = [
        {"connection_id": raw.connection_id, "stream": raw.stream, "source_id": raw.source_id,
         "fetched_at": raw.fetched_at.isoformat()}
        for raw in store.provenance(transaction_id)
    ]
    if cli.json:
        cli.emit_json(data)
        return
    v = data["value"] or {}
    cli.echo(f"Transaction {tx.id} ({tx.kind}, {tx.timestamp.isoformat()})")
    cli.echo(f"  value: {v.get('amount') or '-'} {v.get('currency') or ''} [{v.get('status')}, "
             f"method {v.get('method')}, source {v.get('source') or '-'}]")
    for key in ("pair", "candle_time", "rate", "fx_rate", "reason"):
        if v.get(key):
            cli.echo(f"  {key}: {v[key]}")
    for raw in data["raws"]:
        cli.echo(f"  from {raw['connection_id']} / {raw['stream']} / {raw['source_id']}")
