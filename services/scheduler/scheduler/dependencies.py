"""The scheduler's dependency providers: the container runtime and the instance locks."""
import fcntl
import os
import secrets
from pathlib import Path

import docker
import eventlet
from nameko.extensions import DependencyProvider
from nameko.standalone.events import event_dispatcher

from ufop_common import config

from .reconcile import Policy
from .runtime import Runtime
from .shipping import Shipper


def platform_id(data_dir):
    """This platform's identity on a shared Docker engine, kept in the data directory."""
    path = Path(data_dir) / "platform-id"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(6))
    return path.read_text().strip()


class Locks:
    """One lock per instance and one per ufop (adding instances), in this process."""

    def __init__(self):
        self.instances = {}
        self.ufops = {}

    def instance(self, record_id):
        return self.instances.setdefault(record_id, eventlet.semaphore.Semaphore())

    def ufop(self, ufop_id):
        return self.ufops.setdefault(ufop_id, eventlet.semaphore.Semaphore())

    def busy(self):
        return frozenset(k for k, lock in self.instances.items() if lock.locked())


def hold_leader_lock(data_dir):
    """One scheduler per platform: its in-memory locks and the reconciler assume it. The lock
    is a file lock, so the kernel drops it when the process dies, even by ``kill -9``."""
    path = Path(data_dir) / "scheduler.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RuntimeError(f"another scheduler already runs on {Path(data_dir).resolve()}; "
                           f"run one scheduler per platform") from None
    return fd


class Containers(DependencyProvider):
    """The Docker runtime, the locks and the policy, shared by every worker."""

    def setup(self):
        self.settings = config.load()
        self.leader = hold_leader_lock(self.settings.data_dir)
        self.client = docker.from_env(timeout=120)
        self.runtime = Runtime(self.client, platform_id(self.settings.data_dir))
        self.locks = Locks()
        self.policy = Policy(max_restarts=self.settings.max_restarts,
                             health_timeout=self.settings.health_timeout)
        # log streams are long-lived and may be silent for hours: no read timeout
        self.log_client = docker.from_env(timeout=None)
        self.shipper = Shipper(self.log_client, self.runtime,
                               event_dispatcher(self.container.config), self.container)

    def start(self):
        self.shipper.start()

    def stop(self):
        self.client.close()
        self.log_client.close()
        os.close(self.leader)

    def get_dependency(self, worker_ctx):
        return self
