"""The kernel: what every part of Tongban stands on.

- :mod:`.config` — the systems file (which systems, which connector and mapping, secrets by name)
- :mod:`.registry` — connector kinds found through the ``tongban.connectors`` entry points
- :mod:`.runtime` — the wiring: systems, ledger engine, keys and connectors for one process
- :mod:`.yamlfile` — the one reader of configuration YAML (keys as written, duplicate keys refused)

The error hierarchy is in :mod:`gateway.contract.errors` (connectors raise it too).
"""
