"""The Rucio daemons a lake runs beside its server, each a lab service of its own (so that `lakeprobe lab stop
hermes` is a fault): rules evaluated and cleaned, expired DIDs removed, replicas deleted from the storage
through Rucio's own protocol layer, and messages sent to the broker. They sleep a few seconds between
cycles, where a production lake sleeps minutes, so that a round sees them act.

conveyor is not among them: it submits transfers to FTS, which cannot run here.
"""

from lab import procs
from lab.layout import Layout
from lab.rucio_server import SERVER_VENV, RucioServer

SLEEP_S = "2"

# name -> arguments of rucio-<name>
DAEMONS = {
    "judge-evaluator": ["--sleep-time", SLEEP_S],
    "judge-cleaner": ["--sleep-time", SLEEP_S],
    "undertaker": ["--sleep-time", SLEEP_S],
    "reaper": ["--sleep-time", SLEEP_S, "--threads", "1", "--delay-seconds", "10"],
    "hermes": ["--sleep-time", SLEEP_S],
}


class RucioDaemon:
    def __init__(self, name: str, layout: Layout, server: RucioServer):
        self.name, self.server = name, server
        self.dir = layout.component_dir("rucio")
        self.pid_file, self.log_file = self.dir / f"{name}.pid", self.dir / f"{name}.log"

    def start(self):
        if self.up():
            return
        procs.start(
            [str(SERVER_VENV / "bin/python"), str(SERVER_VENV / f"bin/rucio-{self.name}"), *DAEMONS[self.name]],
            pid_file=self.pid_file,
            log_file=self.log_file,
            env=self.server.environment(),
            cwd=self.dir,
        )

    def stop(self):
        procs.stop(self.pid_file)

    def up(self) -> bool:
        return procs.pid_of(self.pid_file) is not None


def all_daemons(layout: Layout, server: RucioServer) -> list[RucioDaemon]:
    return [RucioDaemon(name, layout, server) for name in DAEMONS]
