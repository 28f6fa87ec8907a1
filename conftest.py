"""lakeprobe's pytest plugins. plugins/lake.py starts a run; the others bring options, fixtures and hooks
of their own (their order at the end of a run is plugins/round.py's)."""

pytest_plugins = [
    "plugins.options",
    "plugins.workers",
    "plugins.lake",
    "plugins.records",
    "plugins.catalogue",
    "plugins.sinks",
    "plugins.prometheus",
    "plugins.chat",
    "plugins.scheduling",
    "plugins.sharding",
    "plugins.interrupt",
    "plugins.deadlines",
]
