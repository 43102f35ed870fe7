"""The engine's default sync hook: after every sync, record the account's coverage gaps and link the
owner's transfers incrementally (only what the sync wrote is read again; a sync that wrote nothing
links nothing: deletions and the user's decisions are linked by the owner API when they are made or read)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, cast

from txsync.connector import Connector
from txsync.merge import to_us
from txsync.models import ConnectorKind
from txsync.owner.gaps import record_sync_gaps
from txsync.owner.linker import Linker, LinkRules

if TYPE_CHECKING:
    from txsync.engine import Engine, SyncReport

__all__ = ["OwnerSyncHook"]

log = logging.getLogger("txsync.owner")


def _owner_store(store: object) -> object | None:
    """The store if it keeps the owner layer's tables (a SQL store, or a wrapper of one)."""
    from txsync.store._links import OwnerTables

    inner = getattr(store, "inner", store)
    return store if isinstance(inner, OwnerTables) else None


class OwnerSyncHook:
    """Records gaps, links transfers and, with ``refresh_balances``, keeps what the source reports now
    (one more request or few per sync: off by default)."""

    def __init__(
        self,
        *,
        link: bool = True,
        gaps: bool = True,
        refresh_balances: bool = False,
        rules: LinkRules | None = None,
    ) -> None:
        self.link = link
        self.gaps = gaps
        self.refresh_balances = refresh_balances
        self.rules = rules
        self._linker: Linker | None = None

    def _linker_for(self, engine: Engine) -> Linker:
        if self._linker is None or self._linker.store is not cast(object, engine.store):
            self._linker = Linker(engine.store, rules=self.rules, clock=engine.clock)  # type: ignore[arg-type]
        return self._linker

    async def after_sync(self, engine: Engine, report: SyncReport, connector: type[Connector]) -> None:
        """Record the gaps, refresh the reported balances if asked, link the owner's transfers."""
        store = _owner_store(engine.store)
        if store is None:
            return
        if self.gaps:
            await asyncio.to_thread(record_sync_gaps, store, report, connector.info)
        if self.refresh_balances and report.ok and connector.info.kind != ConnectorKind.FILE:
            from txsync.owner.ledger import OwnerLedger

            try:
                await OwnerLedger(store).refresh_reported(engine, report.account_id, report.connection_id)
            except Exception as exc:
                report.warnings.append(f"reported balances not refreshed: {type(exc).__name__}: {exc}")
        wrote = report.total("new") + report.total("updated") + report.total("matched")
        if self.link and (wrote or store.link_since(report.account_id) is None):  # type: ignore[attr-defined]
            owner = store.account_owner(report.account_id)  # type: ignore[attr-defined]
            # Store work off the event loop (an async host keeps answering while the linker runs).
            run = await asyncio.to_thread(
                self._linker_for(engine).run, owner, accounts=[report.account_id],
                since=to_us(report.started_at),
            )
            if run.ties:
                report.warnings.append(
                    f"{run.ties} group(s) of equally good transfer pairings left for you to link by hand"
                )
            log.debug("linking after sync of %s: %s", report.connection_id, run)
