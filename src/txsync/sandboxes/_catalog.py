"""The built-in sandboxes that can be served, by name; each connector package builds its own."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from txsync.errors import ConfigurationError
from txsync.sandboxes._served import ServedSandbox

__all__ = ["SANDBOXES", "served_sandbox"]

#: name -> (what it emulates, "module:function" building a :class:`ServedSandbox`).
SANDBOXES: dict[str, tuple[str, str]] = {
    "binance": ("Binance spot, SAPI and USD-M futures, with Binance's weight limits, 429s and 418 bans",
                "txsync.connectors.binance.sandbox._served:served"),
    "bitstamp": ("Bitstamp's private API v2", "txsync.connectors.bitstamp.sandbox._served:served"),
    "paymium": ("Paymium's API v1", "txsync.connectors.paymium.sandbox._served:served"),
    "evm": ("An Etherscan API v2 explorer (EVM wallets)", "txsync.connectors.evm.sandbox._served:served"),
    "bitcoin": ("An Esplora explorer (Bitcoin wallets)", "txsync.connectors.bitcoin.sandbox._served:served"),
    "demo": ("The Demo Exchange (the connector-author example)",
             "txsync.connectors.demo.sandbox._served:served"),
}


def served_sandbox(name: str, **params: Any) -> ServedSandbox:
    """Build the sandbox ``name`` for serving; ``params`` are its own (``accounts``, ``window``...).

    Raises :class:`~txsync.errors.ConfigurationError` for an unknown name or a parameter that sandbox
    does not take.
    """
    entry = SANDBOXES.get(name)
    if entry is None:
        raise ConfigurationError(f"no built-in sandbox {name!r} (known: {', '.join(sorted(SANDBOXES))})")
    module, _, function = entry[1].partition(":")
    build = getattr(import_module(module), function)
    try:
        served: ServedSandbox = build(**params)
    except TypeError as exc:
        raise ConfigurationError(f"sandbox {name!r}: {exc}") from None
    return served
