"""The Docker engine as a dependency provider (STYLE: every external resource behind one).

Under eventlet's monkey patching the SDK's sockets are green, so a slow Docker call yields to
other workers instead of stalling the service.
"""
import docker
from nameko.extensions import DependencyProvider

API_TIMEOUT = 300


class DockerEngine(DependencyProvider):
    def setup(self):
        self.client = docker.from_env(timeout=API_TIMEOUT)

    def stop(self):
        self.client.close()

    def get_dependency(self, worker_ctx):
        return self.client
