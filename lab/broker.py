"""A STOMP broker for Rucio's hermes events: RabbitMQ with its STOMP plugin, on loopback only."""

import subprocess
import time

from lab import procs
from lab.layout import Layout

RABBIT_BIN = "/usr/lib/rabbitmq/bin"
USER, PASSWORD = "lakeprobe", "lakeprobe-lab"


class Broker:
    name = "broker"

    def __init__(self, layout: Layout):
        self.layout, self.dir = layout, layout.component_dir("broker")
        self.port, self.url = layout.port("stomp"), layout.broker_url
        self.pid_file, self.log_file = self.dir / "rabbitmq.pid", self.dir / "rabbitmq.out"

    @property
    def password_file(self):
        """The probes' copy of the password (mode 600): the inventory names it, never the password."""
        path = self.dir / "password"
        if not path.exists():
            path.write_text(PASSWORD)
            path.chmod(0o600)
        return path

    def _env(self) -> dict:
        d, port = self.dir, self.layout.port
        return {
            "HOME": str(d),  # where Erlang keeps its cookie
            "RABBITMQ_NODENAME": f"lakeprobe{self.layout.base_port}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(port("amqp")),
            "RABBITMQ_DIST_PORT": str(port("broker-dist")),
            "ERL_EPMD_PORT": str(port("epmd")),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq"),
            "RABBITMQ_PID_FILE": str(d / "beam.pid"),
            "ERL_CRASH_DUMP": str(d / "erl_crash.dump"),  # else into the working directory: the repository
        }

    def start(self):
        if self.up():
            return
        cookie = self.dir / ".erlang.cookie"
        if cookie.exists():  # Erlang refuses to start with a cookie others can read (a copied run dir)
            cookie.chmod(0o400)
        (self.dir / "enabled_plugins").write_text("[rabbitmq_stomp].\n")
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.layout.port('amqp')}\n"
            f"stomp.listeners.tcp.1 = 127.0.0.1:{self.port}\n"
            f"loopback_users = none\ndefault_user = {USER}\ndefault_pass = {PASSWORD}\n"
        )
        procs.start([f"{RABBIT_BIN}/rabbitmq-server"], pid_file=self.pid_file, log_file=self.log_file, env=self._env())
        procs.wait_port(
            self.port, what="RabbitMQ STOMP", pid_file=self.pid_file, log_file=self.log_file, timeout=120
        )  # first boot on a loaded 2-core machine is slow

    def stop(self):
        procs.stop(self.pid_file, timeout=20)
        # epmd daemonizes out of RabbitMQ's process group: it is stopped through its own port, and refuses
        # while the node it serves is still registered, which outlives RabbitMQ's process for a moment.
        deadline = time.monotonic() + 20
        while procs.port_open(self.layout.port("epmd")) and time.monotonic() < deadline:
            subprocess.run(["epmd", "-kill"], env={**self._env(), "PATH": "/usr/bin:/bin"}, capture_output=True)
            procs.wait_port_closed(self.layout.port("epmd"), timeout=1)
        procs.wait_port_closed(self.port)

    def up(self) -> bool:
        return procs.pid_of(self.pid_file) is not None and procs.port_open(self.port)
