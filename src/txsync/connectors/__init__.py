"""The built-in connectors, each in its own subpackage and published through the same
``txsync.connectors`` entry points a third-party plugin uses (see ``pyproject.toml``)."""
