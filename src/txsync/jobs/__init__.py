"""Running syncs from a job engine (issue 15): plain job functions, and Celery tasks over them.

:func:`run_sync_job` and :func:`enqueue_due` are ordinary synchronous functions over an
:class:`~txsync.engine.Engine`: a Celery task (:mod:`txsync.jobs.celery`, the ``txsync[celery]``
extra), a Dramatiq actor, an arq function or a Temporal activity wraps them the same way (see
``docs/deploy.md``). The Celery module is imported only when used.
"""

from txsync.jobs._core import (
    JobAction,
    JobBackoff,
    SyncJobResult,
    enqueue_due,
    run_sync_job,
    transient_errors,
)

__all__ = ["JobAction", "JobBackoff", "SyncJobResult", "enqueue_due", "run_sync_job", "transient_errors"]
