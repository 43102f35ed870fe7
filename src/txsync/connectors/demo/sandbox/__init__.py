"""The Demo Exchange sandbox: a local emulation of its API (:class:`DemoSandbox`, served through an
``httpx.MockTransport``) and the deterministic account it serves (:class:`DemoAccount`).

Test credential: :data:`DEMO_KEY` / :data:`DEMO_SECRET`; clock: :data:`NOW`; host: :data:`DEMO_HOST`.
"""

from ._scenario import NOW, DemoAccount
from ._server import DEMO_BASE_URL, DEMO_HOST, DEMO_KEY, DEMO_SECRET, MAX_SPAN_MS, WEIGHT_LIMIT, DemoSandbox

__all__ = [
    "DEMO_BASE_URL",
    "DEMO_HOST",
    "DEMO_KEY",
    "DEMO_SECRET",
    "MAX_SPAN_MS",
    "NOW",
    "WEIGHT_LIMIT",
    "DemoAccount",
    "DemoSandbox",
]
