"""The ECB's euro foreign exchange reference rates as an FX price source (official data API, no key).

:class:`EcbReferenceRates` is the client; :mod:`txsync.valuation.sources.ecb.sandbox` its API emulation;
:mod:`txsync.valuation.sources.ecb._calendar` the TARGET closing days.
"""

from txsync.valuation.sources.ecb._calendar import easter, is_business_day, previous_business_day
from txsync.valuation.sources.ecb._source import CURRENCIES, PUBLISHED_BY, EcbReferenceRates, NoResultsError

__all__ = [
    "CURRENCIES",
    "PUBLISHED_BY",
    "EcbReferenceRates",
    "NoResultsError",
    "easter",
    "is_business_day",
    "previous_business_day",
]
