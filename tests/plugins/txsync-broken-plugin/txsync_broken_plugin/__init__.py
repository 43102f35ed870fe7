"""A plugin module that fails at import time, as a plugin with a missing config or a bug would."""

raise RuntimeError("broken plugin: cannot initialise")
