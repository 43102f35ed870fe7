"""The Celery app of a txsync deployment: ``celery -A tasks worker`` runs syncs, ``celery -A tasks beat``
queues the connections due (see docs/deploy.md and compose.yaml beside this file).

Every setting comes from the environment:

- ``TXSYNC_DB``: the store (``postgresql+psycopg://user:password@host:5432/db``);
- ``TXSYNC_MASTER_KEY``: the vault's master key (base64, 32 bytes), the same in every worker;
- ``CELERY_BROKER_URL`` / ``CELERY_RESULT_BACKEND``: Redis (``redis://...``) or RabbitMQ (``amqp://...``);
- ``TXSYNC_ENQUEUE_EVERY``: seconds between two runs of the periodic enqueue (default 300).
"""

from __future__ import annotations

import os
from datetime import timedelta

from txsync.jobs.celery import create_app

app = create_app(
    broker=os.environ.get("CELERY_BROKER_URL", "redis://localhost:6379/0"),
    backend=os.environ.get("CELERY_RESULT_BACKEND"),
    enqueue_every=timedelta(seconds=float(os.environ.get("TXSYNC_ENQUEUE_EVERY", "300"))),
)
