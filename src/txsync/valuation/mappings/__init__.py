"""The maintained asset mappings, one TOML file per connector (see ``txsync.valuation.assets``)."""
