"""The Bitstamp connector (API v2): one ``user_transactions`` stream, balances, a read check."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from txsync.connector import (
    Connector,
    ConnectorContext,
    ConnectorInfo,
    CoverageGap,
    CredentialField,
    Stream,
    StreamInfo,
)
from txsync.connectors.bitstamp._auth import BitstampAuth, ResponseSignatureMode
from txsync.connectors.bitstamp._errors import error_mapper
from txsync.connectors.bitstamp._matching import CryptoRow, crypto_row, crypto_source_id
from txsync.connectors.bitstamp._stream import MAX_OFFSET, UserTransactionsStream, grace
from txsync.errors import (
    BadResponseError,
    ConfigurationError,
    PaginationLoopError,
    PermissionDeniedError,
    TxsyncError,
)
from txsync.fields import Fields
from txsync.http import Bucket, HttpClient, WeightedRateLimiter
from txsync.models import Balance, ConnectorKind, Permissions
from txsync.pagination import page_fingerprint

__all__ = ["BITSTAMP_BASE_URL", "Bitstamp"]

BITSTAMP_BASE_URL = "https://www.bitstamp.net"
CRYPTO_TRANSACTIONS = "/api/v2/crypto-transactions/"
#: Bitstamp's public list of the currencies it trades (no key needed).
CURRENCIES = "/api/v2/currencies/"
BALANCE = "/api/v2/balance/"
CRYPTO_LIMIT = 1000
_CURRENCY = re.compile(r"[a-z0-9]{1,20}", re.ASCII)
#: Bitstamp allows 8000-10000 requests per 10 minutes per key; txsync keeps well under.
REQUESTS_PER_10_MINUTES = 6000

MINIMAL_PERMISSIONS = (
    "Create an API key with only these permissions: 'Account balance', 'User transactions' and "
    "'Crypto transactions' (for blockchain txids). Never grant trading, withdrawal, deposit address "
    "or transfer permissions; restrict the key to your server's IP address."
)


class Bitstamp(Connector):
    """Bitstamp, through its private API v2 with a read-only key.

    Options: ``base_url`` (default ``https://www.bitstamp.net``), ``paging`` (``"since_id"``, the
    default, or ``"offset"`` for accounts under 200000 rows), ``page_limit`` (offset paging only,
    at most 1000), ``verify_response_signature`` (``"strict"`` default, ``"if_present"``, ``"off"``),
    ``txid_grace_hours`` (24: how long a crypto movement without a crypto-transactions row is
    re-read, waiting for its txid).
    """

    info = ConnectorInfo(
        id="bitstamp",
        display_name="Bitstamp",
        kind=ConnectorKind.EXCHANGE,
        credential_fields=(
            CredentialField(name="api_key", label="API key", secret=True),
            CredentialField(name="api_secret", label="API secret", secret=True),
        ),
        streams=(
            StreamInfo(
                name="user_transactions",
                description="Deposits, withdrawals, trades, transfers, staking and rewards, with "
                "blockchain txids matched from crypto-transactions",
            ),
        ),
        coverage_gaps=(
            CoverageGap(
                id="onchain_txids",
                title="Blockchain txids of some deposits and withdrawals",
                description="Bitstamp's user transactions carry no txid or address. txsync takes "
                "them from crypto-transactions when exactly one row matches (kind, asset, amount, "
                "within an hour); movements it cannot match unambiguously are flagged "
                "crypto_unmatched or crypto_match_ambiguous, and without the 'Crypto transactions' "
                "permission no movement gets a txid.",
                remedy="Grant the key the 'Crypto transactions' permission (create a new read-only "
                "key and replace the old one); add the txid of a flagged transaction by hand from "
                "Bitstamp's transaction history.",
            ),
            CoverageGap(
                id="unknown_types",
                title="Transaction types txsync does not know",
                description="Rows of a type Bitstamp added after this connector was written are "
                "kept as 'other' with the flag unknown_type and their raw amounts.",
                remedy="Review and label them in the ledger, or import Bitstamp's transaction "
                "history export (Transactions > Export) for that period.",
            ),
            CoverageGap(
                id="unknown_keys",
                title="Row fields txsync does not read as currencies",
                description="A user transaction may carry a field this connector does not know "
                "(a number such as a price or an identifier, or a currency Bitstamp listed after "
                "the connector's currency snapshot that no pair key of the row names). It is never "
                "turned into an asset: the row keeps its other legs, is flagged unknown_keys and "
                "lists the fields in meta.unknown_keys.",
                remedy="Review the flagged transactions; if a field is a currency amount, add the "
                "leg by hand or import Bitstamp's transaction history export for that period, and "
                "update txsync (its currency list grows with Bitstamp's).",
            ),
            CoverageGap(
                id="sub_accounts",
                title="Sub-account history",
                description="An API key reads one account: transfers to and from sub-accounts are "
                "synced, the sub-accounts' own trades and movements are not.",
                remedy="Create a read-only key inside each sub-account and connect it as its own connection.",
                always=True,
            ),
            CoverageGap(
                id="offset_limit",
                title="History beyond offset 200000",
                description="With paging='offset' Bitstamp serves at most 200000 rows.",
                remedy="Remove the paging option: the default since_id paging reads any length of history.",
            ),
        ),
        reports_permissions=False,
        minimal_permissions=MINIMAL_PERMISSIONS,
    )

    def __init__(self, context: ConnectorContext) -> None:
        super().__init__(context)
        options = context.options
        self.paging = str(options.get("paging", "since_id"))
        if self.paging not in ("since_id", "offset"):
            raise ConfigurationError("the Bitstamp option paging must be 'since_id' or 'offset'")
        limit = options.get("page_limit", 1000)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
            raise ConfigurationError("the Bitstamp option page_limit must be an integer in 1..1000")
        self.page_limit = limit
        self.txid_grace: timedelta = grace(options.get("txid_grace_hours", 24))
        credential = context.credential
        api_key, secret = credential.secret("api_key"), credential.secret("api_secret")
        clock = context.clock
        self.auth = BitstampAuth(
            api_key,
            secret,
            clock=lambda: int(clock().timestamp() * 1000),
            verify_response=str(options.get("verify_response_signature", ResponseSignatureMode.STRICT.value)),
        )
        digest = hashlib.sha256(api_key.encode()).hexdigest()[:16]
        limiter = context.limiters.get(
            f"bitstamp:key:{digest}",
            lambda: WeightedRateLimiter([Bucket("requests", REQUESTS_PER_10_MINUTES, 600)]),
        )
        secrets = credential.secret_values()

        def client(auth: Any) -> HttpClient:
            return HttpClient(
                str(options.get("base_url", BITSTAMP_BASE_URL)),
                auth=auth,
                limiter=limiter,
                transport=context.transport,
                stats=context.stats,
                retry=context.retry,
                error_mapper=error_mapper(secrets),
                secrets=secrets,
                clock=clock,
            )

        self.http = client(self.auth)
        # Bitstamp's public endpoints are not signed (nor are their answers): a client without auth.
        self.public_http = client(None)
        self._crypto: list[tuple[CryptoRow, Any]] | None = None
        self._crypto_unavailable = False
        self._currencies: dict[str, Any] | None = None
        self._currencies_unavailable = False

    async def verify(self) -> Permissions:
        """Confirm the key can read with one cheap signed call (the newest user transaction).

        Bitstamp has no endpoint telling a key's permissions, so they are reported as unknown.
        """
        rows = await self.http.request_json(
            "POST",
            "/api/v2/user_transactions/",
            data={"offset": 0, "limit": 1, "sort": "desc"},
            weights={"requests": 1},
        )
        if not isinstance(rows, list):
            raise BadResponseError(
                "user_transactions: expected a list", endpoint="/api/v2/user_transactions/"
            )
        return Permissions(reported=False, can_read=True, details={"checked_with": "user_transactions"})

    async def balances(self) -> Sequence[Balance]:
        """The balances Bitstamp reports (``/api/v2/balance/``), non-zero ones only."""
        body = await self.http.request_json("POST", BALANCE, weights={"requests": 1})
        return parse_balances(body, self.context.clock())

    def streams(self) -> Sequence[Stream]:
        """The one history stream."""
        return [UserTransactionsStream(self)]

    async def crypto_rows(self) -> list[tuple[CryptoRow, Any]] | None:
        """Every ``crypto-transactions`` row (read once per sync), or ``None`` when the key lacks the
        'Crypto transactions' permission (the txid gap is noted and the sync goes on)."""
        if self._crypto_unavailable:
            return None
        if self._crypto is not None:
            return self._crypto
        rows: list[tuple[CryptoRow, Any]] = []
        seen: set[str] = set()
        pages: set[bytes] = set()
        offset = 0
        try:
            while True:
                body = await self.http.request_json(
                    "POST",
                    CRYPTO_TRANSACTIONS,
                    data={"offset": offset, "limit": CRYPTO_LIMIT},
                    weights={"requests": 1},
                )
                if not isinstance(body, Mapping):
                    raise BadResponseError(
                        "crypto-transactions: expected an object", endpoint=CRYPTO_TRANSACTIONS
                    )
                longest = 0
                page_ids: list[str] = []
                for kind, key in (("deposit", "deposits"), ("withdrawal", "withdrawals")):
                    items = body.get(key) or []
                    if not isinstance(items, list):
                        raise BadResponseError(
                            f"crypto-transactions: {key} is not a list", endpoint=CRYPTO_TRANSACTIONS
                        )
                    longest = max(longest, len(items))
                    for item in items:
                        if not isinstance(item, Mapping):
                            raise BadResponseError(
                                f"crypto-transactions: an item of {key} is not an object",
                                endpoint=CRYPTO_TRANSACTIONS,
                            )
                        sid = crypto_source_id(kind, item)  # type: ignore[arg-type]
                        parsed = crypto_row(sid, item)
                        page_ids.append(sid)
                        if parsed is not None and sid not in seen:
                            seen.add(sid)
                            rows.append((parsed, item))
                if longest < CRYPTO_LIMIT or offset + CRYPTO_LIMIT > MAX_OFFSET:
                    break
                fingerprint = page_fingerprint(page_ids)
                if fingerprint in pages:
                    raise PaginationLoopError(
                        f"crypto-transactions: the page at offset {offset} repeats an earlier one; "
                        "Bitstamp does not honour the offset",
                        endpoint=CRYPTO_TRANSACTIONS,
                    )
                pages.add(fingerprint)
                offset += CRYPTO_LIMIT
        except PermissionDeniedError:
            self._crypto_unavailable = True
            self.context.note_gap(
                "onchain_txids",
                "the key lacks the 'Crypto transactions' permission: no txids",
                stream=UserTransactionsStream.name,
            )
            return None
        self._crypto = rows
        return rows

    async def currency_list(self) -> dict[str, Any] | None:
        """Bitstamp's live currency list (``GET /api/v2/currencies/``, public), by lower-case code,
        read once per sync and only when a row carries a code outside the connector's snapshot;
        ``None`` when it cannot be read (the rows' unknown keys then stay unknown, and the
        ``unknown_keys`` gap says why)."""
        if self._currencies is not None or self._currencies_unavailable:
            return self._currencies
        try:
            body = await self.public_http.request_json("GET", CURRENCIES, weights={"requests": 1})
            if not isinstance(body, list):
                raise BadResponseError("currencies: expected a list", endpoint=CURRENCIES)
            listed: dict[str, Any] = {}
            for item in body:
                reader = Fields(item, stream="currencies")
                code = reader.text("currency", max_length=20).lower()
                if _CURRENCY.fullmatch(code):
                    listed[code] = item
        except TxsyncError as exc:
            self._currencies_unavailable = True
            self.context.note_gap(
                "unknown_keys",
                f"Bitstamp's currency list could not be read ({type(exc).__name__}): row keys "
                "outside the connector's snapshot stay unknown",
                stream=UserTransactionsStream.name,
            )
            return None
        self._currencies = listed
        return listed

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        await self.http.aclose()
        await self.public_http.aclose()


def parse_balances(body: Any, as_of: Any = None) -> list[Balance]:
    """Balances from either answer shape: ``{"btc_balance": ..., "btc_reserved": ...}`` or a list of
    ``{"currency", "total", "available", "reserved"}``. A currency or amount that cannot be read is a
    :class:`~txsync.errors.InvalidRecordError` naming it."""
    found: dict[str, tuple[Decimal, Decimal | None]] = {}
    if isinstance(body, list):
        for item in body:
            reader = Fields(item, stream="balance")
            currency = reader.asset("currency").upper()
            reader = reader.named(currency)
            found[currency] = (reader.amount("total", default=Decimal(0)), reader.optional_amount("reserved"))
    elif isinstance(body, Mapping):
        reader = Fields(body, stream="balance", record=BALANCE)
        for key in body:
            if isinstance(key, str) and key.endswith("_balance") and key.count("_") == 1:
                currency = key[: -len("_balance")]
                if not _CURRENCY.fullmatch(currency):
                    raise reader.error(key[:40], "does not name a currency")
                found[currency.upper()] = (
                    reader.amount(key, default=Decimal(0)),
                    reader.optional_amount(f"{currency}_reserved"),
                )
    else:
        raise BadResponseError("balance: expected an object or a list", endpoint=BALANCE)
    return [
        Balance(asset=asset, amount=total, locked=reserved or None, as_of=as_of)
        for asset, (total, reserved) in sorted(found.items())
        if total
    ]
