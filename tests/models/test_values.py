"""Exact amounts: sums never round."""

from __future__ import annotations


def test_sums_of_amounts_never_round_at_the_default_28_digits() -> None:
    """A token with 18 decimals and a supply near 2**96 has amounts of 47 significant digits; Python's
    default context would round their sums. Net deltas, merge signatures and the reconciliation are
    exact (the store's balances use the same context)."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from txsync.merge import encode_part, part_signature, signature
    from txsync.models import Balance, Leg, NormalizedTransaction, Origin, SourceRef, net_deltas
    from txsync.reconcile import reconcile

    big = Decimal("79228162514264337593.543950335123456789012345678")
    small = Decimal("0.000000000000000001")
    legs = [Leg(asset="TOKEN", amount=big), Leg(asset="TOKEN", amount=small)]
    assert net_deltas(legs) == {"TOKEN": Decimal("79228162514264337593.543950335123456790012345678")}
    when = datetime(2024, 1, 1, tzinfo=UTC)
    tx = NormalizedTransaction(
        account_id="a", key="k", kind="deposit", timestamp=when, origin=Origin.API, legs=legs,
        sources=[SourceRef(connection_id="c", stream="s", source_id="1")],
    )
    assert part_signature(encode_part(tx)) == signature({"TOKEN": Decimal("79228162514264337593.543950335123456790012345678")})
    check = reconcile({"TOKEN": Decimal("1")}, [Balance(asset="TOKEN", amount=big, as_of=when)])[0]
    assert check.difference == Decimal("-79228162514264337592.543950335123456789012345678")
