"""``BitcoinWallet``: a Bitcoin wallet (one address or an account's extended public key) over Esplora."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from txsync.connector import (
    Connector,
    ConnectorContext,
    ConnectorInfo,
    CoverageGap,
    CredentialField,
    Stream,
    StreamInfo,
)
from txsync.errors import BadRequestError, ConfigurationError
from txsync.http import Bucket, HttpClient, RetryPolicy, WeightedRateLimiter
from txsync.models import Balance, ConnectorKind, Permissions

from ._esplora import EsploraClient, esplora_errors
from ._keys import WalletKeys
from ._normalize import ASSET, sats_to_btc
from ._stream import TransactionsStream

__all__ = ["DEFAULT_BASE_URLS", "BitcoinWallet"]

#: The Esplora instance used when the connection names none, per network.
DEFAULT_BASE_URLS: dict[str, str] = {
    "mainnet": "https://blockstream.info/api",
    "testnet": "https://blockstream.info/testnet/api",
    "signet": "https://mempool.space/signet/api",
}
DEFAULT_GAP_LIMIT = 20
#: Public instances publish no limit; ~4 requests a second is the folklore that avoids their 429s.
DEFAULT_REQUESTS_PER_SECOND = 4.0
#: Retries when the host gives none: Esplora's 429s carry no Retry-After, so back off ourselves.
ESPLORA_RETRY = RetryPolicy(attempts=6, max_wait=180.0, wait_initial=1.0, wait_max=45.0, wait_jitter=1.0)

_CREDENTIAL_FIELD = "xpub_or_address"
_OPTIONS = {
    "base_url",
    "network",
    "script_type",
    "gap_limit",
    "paging",
    "requests_per_second",
    "on_incomplete",
}


def _option_int(options: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = options.get(name, default)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigurationError(f"option {name} must be an integer from {low} to {high}")
    return value


def _option_choice(options: Mapping[str, Any], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = options.get(name, default)
    if value not in choices:
        raise ConfigurationError(f"option {name} must be one of {', '.join(choices)}")
    return str(value)


def _requests_per_second(options: Mapping[str, Any]) -> float:
    value = options.get("requests_per_second", DEFAULT_REQUESTS_PER_SECOND)
    try:
        rate = float(value)
    except (TypeError, ValueError):
        rate = -1.0
    if isinstance(value, bool) or not (math.isfinite(rate) and rate >= 0):
        raise ConfigurationError("option requests_per_second must be a number >= 0 (0: no client-side limit)")
    return rate


def _limiter_for(rate: float) -> WeightedRateLimiter:
    if rate >= 1:
        return WeightedRateLimiter([Bucket("requests", int(rate), 1.0)])
    return WeightedRateLimiter([Bucket("requests", 1, 1.0 / rate)])


class BitcoinWallet(Connector):
    """A Bitcoin wallet read from an Esplora instance.

    Credential (public): ``xpub_or_address``, one address or an account's extended public key
    (xpub / ypub / zpub, tpub / upub / vpub on test networks). Options:

    * ``script_type`` - ``p2pkh``, ``p2sh-p2wpkh``, ``p2wpkh`` or ``p2tr`` (aliases ``bip44``..
      ``bip86``, ``taproot``); needed for taproot (BIP86 keys use the plain xpub prefix);
    * ``network`` - ``mainnet``, ``testnet``, ``signet`` or ``regtest`` (default: from the key);
    * ``base_url`` - the Esplora API root (default ``https://blockstream.info/api``; mempool.space's
      ``https://mempool.space/api`` or a self-hosted instance work the same);
    * ``gap_limit`` - unused addresses scanned past the last used one, per chain (default 20);
    * ``paging`` - ``chain`` (``/txs/chain/:txid``, every instance) or ``after_txid`` (mempool.space);
    * ``requests_per_second`` - client-side limit (default 4; 0 for a self-hosted instance);
    * ``on_incomplete`` - ``gap`` (note the gap in the report, default) or ``error`` (fail the stream)
      when an address lists fewer transactions than its stats announce.
    """

    info = ConnectorInfo(
        id="bitcoin",
        display_name="Bitcoin wallet",
        kind=ConnectorKind.WALLET,
        credential_fields=(
            CredentialField(
                name=_CREDENTIAL_FIELD,
                label="Address or extended public key",
                secret=False,
                description=(
                    "One Bitcoin address, or the account's extended public key (xpub, ypub, zpub; "
                    "tpub, upub, vpub on testnet). Watch-only: it cannot spend. Never give a private key."
                ),
            ),
        ),
        streams=(
            StreamInfo(
                name="transactions",
                description="Every on-chain transaction touching the wallet's addresses, pending included",
            ),
        ),
        coverage_gaps=(
            CoverageGap(
                id="incomplete_history",
                title="Incomplete address history",
                description=(
                    "The Esplora instance listed fewer transactions for an address than its own "
                    "statistics announce (a paging quirk or an overloaded instance)."
                ),
                remedy=(
                    "Sync again later, or point base_url at another instance (mempool.space, "
                    "blockstream.info) or a self-hosted Esplora."
                ),
            ),
            CoverageGap(
                id="off_chain",
                title="Lightning and other off-chain payments",
                description="Only on-chain transactions are visible on the blockchain.",
                remedy="Import Lightning wallet or exchange statements as files.",
                always=True,
            ),
        ),
        reports_permissions=True,
        minimal_permissions="None: an address or an extended public key is watch-only and cannot move funds.",
    )

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        options = context.options
        unknown = sorted(set(options) - _OPTIONS)
        if unknown:
            raise ConfigurationError(f"unknown bitcoin option(s) {unknown}: known are {sorted(_OPTIONS)}")
        credential = context.credential
        if not credential.has(_CREDENTIAL_FIELD):
            raise ConfigurationError(f"the bitcoin credential needs {_CREDENTIAL_FIELD!r}")
        network = options.get("network")
        script_type = options.get("script_type")
        self.keys = WalletKeys.parse(
            credential.value(_CREDENTIAL_FIELD),
            script_type=None if script_type is None else str(script_type),
            network=None if network is None else str(network),
        )
        self.gap_limit = _option_int(options, "gap_limit", DEFAULT_GAP_LIMIT, 1, 1000)
        self.paging = _option_choice(options, "paging", "chain", ("chain", "after_txid"))
        self.on_incomplete = _option_choice(options, "on_incomplete", "gap", ("gap", "error"))
        base_url = options.get("base_url") or DEFAULT_BASE_URLS.get(self.keys.network)
        if not isinstance(base_url, str) or urlsplit(base_url).scheme not in ("http", "https"):
            raise ConfigurationError(
                f"option base_url must be the http(s) root of an Esplora API for {self.keys.network}"
            )
        self.base_url = base_url.rstrip("/")
        rate = _requests_per_second(options)
        limiter = None
        if rate > 0:
            host = urlsplit(self.base_url).netloc
            limiter = context.limiters.get(f"esplora:{host}:{rate:g}", lambda: _limiter_for(rate))
        self.http = HttpClient(
            self.base_url,
            limiter=limiter,
            transport=context.transport,
            stats=context.stats,
            retry=context.retry if context.retry is not None else ESPLORA_RETRY,
            error_mapper=esplora_errors,
            clock=context.clock,
        )
        self.client = EsploraClient(self.http, metered=limiter is not None)

    def _first_address(self) -> str:
        return self.keys.single if self.keys.single is not None else self.keys.address(0, 0)

    async def verify(self) -> Permissions:
        """Ask the instance about the first address (it answers 400 for an address of another
        network). A public key cannot move funds: every right but reading is ``False``."""
        try:
            await self.client.address_stats(self._first_address())
        except BadRequestError as exc:
            raise ConfigurationError(
                f"the Esplora instance at {self.base_url} rejected the wallet's first address "
                f"({exc}): is it an instance for {self.keys.network}?"
            ) from None
        return Permissions(
            reported=True,
            can_read=True,
            can_trade=False,
            can_withdraw=False,
            can_transfer=False,
            details={"wallet": self.keys.describe(), "gap_limit": self.gap_limit},
        )

    async def balances(self) -> Sequence[Balance]:
        """Confirmed plus unconfirmed balance over every address of the gap window
        (``chain_stats`` + ``mempool_stats``, funded minus spent)."""
        _own, stats, _used = await TransactionsStream(self).discover({})
        total = sum(found.balance for found in stats)
        return [Balance(asset=ASSET, amount=sats_to_btc(total), as_of=self.context.clock())]

    def streams(self) -> Sequence[Stream]:
        return [TransactionsStream(self)]

    async def aclose(self) -> None:
        await self.http.aclose()
