"""The built-in sandboxes served over real HTTP (``txsync sandbox serve NAME``).

Every connector package ships a sandbox: a local emulation of its API (signatures, page sizes,
windows, errors, rate limits). Tests call it in-process through an ``httpx.MockTransport``;
:class:`SandboxServer` serves it on a port instead, so that several processes (workers, a benchmark, a
connector author's own tool) call one emulated exchange that meters all of them together.

* :data:`SANDBOXES` / :func:`served_sandbox` - the built-in ones, by name;
* :class:`ServedSandbox` - a sandbox ready to serve (handler, test accounts, connection options, counters);
* :class:`SandboxServer` - the HTTP server; ``GET /__sandbox__/stats`` returns the counters.
"""

from txsync.sandboxes._catalog import SANDBOXES, served_sandbox
from txsync.sandboxes._http import STATS_PATH, SandboxServer
from txsync.sandboxes._served import SandboxAccount, ServedSandbox

__all__ = ["SANDBOXES", "STATS_PATH", "SandboxAccount", "SandboxServer", "ServedSandbox", "served_sandbox"]
