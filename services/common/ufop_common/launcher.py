"""Runs the four services as their own ``nameko run`` processes (used by ``ufop up`` and tests)."""
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

SERVICES = ("registry", "scheduler", "logs", "gateway")
NAMEKO_CONFIG = Path(__file__).with_name("nameko.yaml")


def admin_keys(data_dir):
    """UFOP_ADMIN_AK/SK from the environment, else kept in ``<data dir>/admin.env`` (0600)."""
    ak, sk = os.environ.get("UFOP_ADMIN_AK"), os.environ.get("UFOP_ADMIN_SK")
    if ak and sk:
        return ak, sk
    path = Path(data_dir) / "admin.env"
    if path.exists():
        values = dict(line.split("=", 1) for line in path.read_text().split() if "=" in line)
        return values["UFOP_ADMIN_AK"], values["UFOP_ADMIN_SK"]
    ak, sk = secrets.token_urlsafe(30)[:40], secrets.token_urlsafe(30)[:40]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(f"UFOP_ADMIN_AK={ak}\nUFOP_ADMIN_SK={sk}\n")
    return ak, sk


def nameko_command(service):
    nameko = Path(sys.executable).with_name("nameko")
    return [str(nameko), "run", "--config", str(NAMEKO_CONFIG), f"{service}.service"]


class Stack:
    """The platform's processes, with their environment and log files."""

    def __init__(self, env=None, log_dir=None, services=SERVICES):
        self.env = dict(os.environ if env is None else env)
        self.data_dir = Path(self.env.get("UFOP_DATA_DIR", "./var"))
        self.log_dir = Path(log_dir) if log_dir else self.data_dir / "logs"
        self.services = services
        self.procs = {}
        ak, sk = admin_keys(self.data_dir)
        self.env.setdefault("UFOP_ADMIN_AK", ak)
        self.env.setdefault("UFOP_ADMIN_SK", sk)

    @property
    def gateway_url(self):
        return "http://" + self.env.get("UFOP_GATEWAY_ADDR", "127.0.0.1:8080")

    def start_service(self, service):
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{service}.log", "ab")
        self.procs[service] = subprocess.Popen(nameko_command(service), env=self.env,
                                               stdout=log, stderr=subprocess.STDOUT,
                                               start_new_session=True)
        log.close()

    def start(self):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for service in self.services:
            self.start_service(service)
        return self

    def stop_service(self, service, sig=signal.SIGTERM, grace=15):
        proc = self.procs.pop(service, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop(self, grace=15):
        """SIGTERM to every service at once, then wait; SIGKILL those still there."""
        procs = [p for p in self.procs.values() if p.poll() is None]
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def exited(self):
        """Services whose process has ended, with their exit codes."""
        return {s: p.returncode for s, p in self.procs.items() if p.poll() is not None}

    def wait_healthy(self, timeout=60):
        """Block until /healthz says every service answers; raise with the logs otherwise."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            dead = self.exited()
            if dead:
                raise RuntimeError(f"services exited: {dead}; see {self.log_dir}")
            try:
                answer = requests.get(self.gateway_url + "/healthz", timeout=3)
                if answer.status_code == 200:
                    return answer.json()["data"]
                last = answer.text
            except requests.RequestException as exc:
                last = repr(exc)
            time.sleep(0.3)
        raise RuntimeError(f"platform not healthy after {timeout} s: {last}")
