"""txsync's own import template (CSV or Excel .xlsx), a FILE connector: everything a
:class:`~txsync.models.NormalizedTransaction` holds, one leg per row. See ``docs/imports.md``.

Entry point: ``txsync_template = "txsync.connectors.txsync_template:TxsyncTemplate"``.
"""

from txsync.connectors.txsync_template.connector import COLUMNS, TxsyncTemplate, template_layout

__all__ = ["COLUMNS", "TxsyncTemplate", "template_layout"]
