"""The built-in price sources, one package each (client and, in ``sandbox/``, its API emulation):

* :mod:`txsync.valuation.sources.binance` - Binance public klines (minute candles, no key);
* :mod:`txsync.valuation.sources.coingecko` - CoinGecko historical market data (Demo and Pro keys);
* :mod:`txsync.valuation.sources.ecb` - the ECB's euro foreign exchange reference rates.

They are published through the ``txsync.price_sources`` entry points, like a third party's would be.
"""
