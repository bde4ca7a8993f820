"""Containers on the Docker engine: the scheduler's only contact with it.

Every container carries the labels ``ufop.id``, ``ufop.name``, ``ufop.index``,
``ufop.version`` (SPEC §9) and ``ufop.platform``, so that two platforms sharing one engine
never touch each other's containers. Port 9100 is published on 127.0.0.1 at a random port.
"""
import logging
import uuid

import docker
import requests

from .reconcile import Observed

log = logging.getLogger(__name__)

PORT = "9100/tcp"
PROBE_TIMEOUT = 1.0
STOP_TIMEOUT = 5


def memory_bytes(text):
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = str(text).strip().lower()
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


class Runtime:
    def __init__(self, client, platform_id):
        self.client = client
        self.platform_id = platform_id
        self.http = requests.Session()

    def labels(self, record):
        return {"ufop.platform": self.platform_id, "ufop.id": str(record.ufop_id),
                "ufop.name": record.ufop_name, "ufop.index": str(record.index),
                "ufop.version": record.version}

    def run(self, record, image=None, version=None):
        """Create and start the container of ``record`` (optionally of another image and
        version, for a switch); returns ``(container id, host port)``."""
        version = version or record.version
        labels = dict(self.labels(record), **{"ufop.version": version})
        container = self.client.containers.create(
            image or record.image,
            name=f"ufop-{record.ufop_name}-{record.index}-{uuid.uuid4().hex[:6]}",
            labels=labels,
            environment={"UFOP_NAME": record.ufop_name, "UFOP_VERSION": version,
                         "UFOP_INSTANCE": str(record.index),
                         "UFOP_CONFIGURATION": record.configuration},
            ports={PORT: ("127.0.0.1", None)},
            nano_cpus=int(record.cpus * 1e9),
            mem_limit=memory_bytes(record.memory),
            detach=True,
        )
        try:
            container.start()
            return container.id, self.host_port(container.id)
        except Exception:
            self.remove(container.id)
            raise

    def host_port(self, container_id):
        container = self.client.containers.get(container_id)
        bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(PORT) or []
        return int(bindings[0]["HostPort"]) if bindings else 0

    def start(self, container_id):
        self.client.api.start(container_id)
        return self.host_port(container_id)

    def restart(self, container_id):
        self.client.api.restart(container_id, timeout=STOP_TIMEOUT)
        return self.host_port(container_id)

    def stop(self, container_id, timeout=STOP_TIMEOUT):
        try:
            self.client.api.stop(container_id, timeout=timeout)
        except docker.errors.NotFound:
            pass

    def remove(self, container_id):
        try:
            self.client.api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:  # already being removed
            if exc.status_code != 409:
                raise

    def observe(self):
        """Every container of this platform, as the reconciler sees it."""
        found = []
        for c in self.client.api.containers(all=True, filters={
                "label": f"ufop.platform={self.platform_id}"}):
            labels = c.get("Labels") or {}
            try:
                ufop_id, index = int(labels["ufop.id"]), int(labels["ufop.index"])
            except (KeyError, ValueError):
                ufop_id, index = -1, -1
            port = 0
            for binding in c.get("Ports") or []:
                if binding.get("PrivatePort") == 9100 and binding.get("PublicPort"):
                    port = int(binding["PublicPort"])
            found.append(Observed(c["Id"], ufop_id, index, c.get("State") == "running", port,
                                  labels.get("ufop.name", ""), labels.get("ufop.version", "")))
        return found

    def healthy(self, host_port):
        if not host_port:
            return False
        try:
            answer = self.http.get(f"http://127.0.0.1:{host_port}/health",
                                   timeout=PROBE_TIMEOUT)
            return answer.status_code == 200
        except requests.RequestException:
            return False
