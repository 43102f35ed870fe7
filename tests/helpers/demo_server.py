"""A misbehaving Demo Exchange on 127.0.0.1: its key check answers a read-only key, its deposits are
empty, and its trades are whatever the test scripts (by default, a history that never ends)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from helpers.hostile import Request, response_bytes, send

KEY_RIGHTS = {"canRead": True, "canTrade": False, "canWithdraw": False, "canTransfer": False, "ipRestrict": True}

Handler = Callable[[Request, asyncio.StreamWriter], Awaitable[None]]


def trade(trade_id: int) -> dict[str, Any]:
    """A well-formed Demo Exchange trade with this id."""
    return {
        "id": trade_id, "orderId": trade_id, "symbol": "BTCEUR", "base": "BTC", "quote": "EUR", "side": "BUY",
        "qty": "0.001", "quoteQty": "10", "price": "10000", "commission": "0", "commissionAsset": "EUR",
        "time": 1580515200000 + trade_id,
    }


async def endless_trades(request: Request, writer: asyncio.StreamWriter) -> None:
    """Always a full page after fromId: the history never ends and the cursor grows forever."""
    start, limit = int(request.query["fromId"]), int(request.query["limit"])
    await send(writer, response_bytes(200, [trade(i) for i in range(start, start + limit)]))


def demo_api(trades: Handler = endless_trades) -> Handler:
    """The Demo Exchange API with ``trades`` answering ``/v1/trades``."""

    async def handler(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.path == "/v1/key":
            await send(writer, response_bytes(200, KEY_RIGHTS))
        elif request.path == "/v1/trades":
            await trades(request, writer)
        elif request.path == "/v1/deposits":
            await send(writer, response_bytes(200, {"rows": []}))
        else:
            await send(writer, response_bytes(404, {"msg": "no such path"}))

    return handler
