"""Fixtures of the end-to-end tests that run ufops: the Docker engine, the build contexts of
the test ufops, and ``ufops`` to make (and clean up) ufops with built versions."""
import time

import docker
import pytest
import requests

from support import (BUILD_DEADLINE, Docker, assert_ok, fileinfo_context, probe_context,
                     sleeper_context, upload_built)


@pytest.fixture(scope="session")
def docker_client():
    client = docker.from_env(timeout=300)
    yield client
    client.close()


@pytest.fixture(scope="session")
def contexts():
    return {"fileinfo": fileinfo_context(), "sleeper": sleeper_context(),
            "probe": probe_context()}


@pytest.fixture
def ufops(docker_client, contexts):
    """``ufops.make(platform, ...)``: a ufop with built versions and a current one. Each is
    deleted at the end of the test and its containers are checked gone (removed if not)."""

    class Ufops:
        def __init__(self):
            self.made = []  # (platform, name)

        def make(self, platform, client=None, acl="PUBLIC", versions=("v1",), current="v1",
                 context="fileinfo", **fields):
            client = client or platform.admin
            name = platform.register(client, acl=acl, **fields)
            self.made.append((platform, name))
            upload_built(client, name, versions, contexts[context], BUILD_DEADLINE)
            if current:
                assert_ok(client.put(f"/api/ufops/{name}", json={"version": current}))
            return name

    made = Ufops()
    yield made
    for platform, name in made.made:
        try:
            platform.admin.delete(f"/api/ufops/{name}", timeout=60)
        except requests.RequestException:
            pass
        engine = Docker(docker_client, platform)
        end = time.monotonic() + 30
        while engine.containers(name) and time.monotonic() < end:
            time.sleep(0.5)
        for container in engine.containers(name):
            docker_client.api.remove_container(container["Id"], force=True)
