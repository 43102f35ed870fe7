"""Each account's coverage gaps: the ones its connectors declare ``always`` applicable, and the ones a
sync noted for it (with their detail), kept with the time they were first seen."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from txsync.connector import ConnectorInfo, CoverageGap
from txsync.engine.report import GapReport, SyncMode, SyncReport
from txsync.merge import to_us

__all__ = ["always_gaps", "gap_rows", "record_sync_gaps"]


def always_gaps(info: ConnectorInfo) -> list[CoverageGap]:
    """The gaps of ``info`` that apply to every account of the connector."""
    return [gap for gap in info.coverage_gaps if gap.always]


def _row(gap: CoverageGap, detail: str, stream: str | None, connection_id: str | None) -> dict[str, Any]:
    return {
        "gap_id": gap.id,
        "title": gap.title,
        "remedy": gap.remedy,
        "description": gap.description,
        "detail": detail,
        "stream": stream,
        "connection_id": connection_id,
        "always": gap.always,
        "assets": list(gap.assets),
        "unreported_balances": gap.unreported_balances,
    }


def gap_rows(
    info: ConnectorInfo, noted: Iterable[GapReport], connection_id: str | None
) -> list[dict[str, Any]]:
    """The rows to record for one sync: every ``always`` gap of the connector and every noted one."""
    rows: dict[str, dict[str, Any]] = {
        gap.id: _row(gap, "", None, connection_id) for gap in always_gaps(info)
    }
    for report in noted:
        try:
            gap = info.gap(report.gap_id)
        except KeyError:
            continue
        previous = rows.get(gap.id)
        detail = report.detail
        if previous is not None and previous["detail"] and detail and detail not in previous["detail"]:
            detail = previous["detail"] + "; " + detail
        rows[gap.id] = _row(gap, detail or (previous or {}).get("detail", ""), report.stream, connection_id)
    return list(rows.values())


def record_sync_gaps(store: Any, report: SyncReport, info: ConnectorInfo) -> None:
    """Record the gaps a sync found for its account; a complete full sync resolves the detected gaps of
    its connection it no longer notes."""
    rows = gap_rows(info, report.coverage_gaps, report.connection_id)
    resolve = report.connection_id if report.ok and report.mode == SyncMode.FULL else None
    when = report.finished_at or report.started_at
    store.record_account_gaps(report.account_id, info.id, rows, to_us(when), resolve_others_of=resolve)
