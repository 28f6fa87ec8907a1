"""lakeprobe's pytest plugins, for the suites (suites/) and the framework's own tests (tests/)."""
pytest_plugins = ["plugins.lake", "plugins.tokens", "plugins.records", "plugins.sinks", "plugins.chat",
                  "plugins.preflight", "plugins.deadlines"]
