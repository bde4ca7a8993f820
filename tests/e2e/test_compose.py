"""docker-compose.yml and the Dockerfile, checked without pulling images (none can be pulled here).

``docker-compose config`` (Debian's docker-compose, installed by ``make test``) validates the
file and prints it resolved; the test reads that and checks what running it relies on.
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("registry", "scheduler", "logs", "gateway")
DOCKER_SOCKET = "/var/run/docker.sock"


def compose(*args):
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: `make test` installs it (scripts/setup.sh --test)"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UFOP_", "COMPOSE_"))}
    done = subprocess.run([binary, "--project-directory", str(ROOT),
                           "-f", str(ROOT / "docker-compose.yml"), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def config():
    return yaml.safe_load(compose("config"))


def test_the_file_is_valid_and_has_every_service(config):
    assert set(config["services"]) == {"rabbitmq", "postgres", *SERVICES}
    assert set(compose("config", "--services").split()) == set(config["services"])


def test_rabbitmq_with_management_and_postgres_behind_a_profile(config):
    rabbit = config["services"]["rabbitmq"]
    assert rabbit["image"] == "rabbitmq:3-management"
    assert any(str(p).startswith("127.0.0.1:5672:5672")  # docker-compose 1.x writes strings
               or (isinstance(p, dict) and str(p.get("published")) == "5672")
               for p in rabbit["ports"]), rabbit["ports"]
    assert "healthcheck" in rabbit
    postgres = config["services"]["postgres"]
    assert postgres["profiles"] == ["postgres"]
    assert postgres["image"].startswith("postgres")


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_runs_nameko_from_the_one_image(config, service):
    spec = config["services"][service]
    assert Path(spec["build"]["context"]) == ROOT
    assert spec["build"].get("dockerfile", "Dockerfile") == "Dockerfile"
    # exec form: nameko itself is PID 1 and receives SIGTERM
    assert spec["command"] == ["nameko", "run", "--config",
                               "/app/services/common/ufop_common/nameko.yaml",
                               f"{service}.service"]
    env = spec["environment"]
    assert env["UFOP_AMQP_URI"].startswith("amqp://") and "5672" in env["UFOP_AMQP_URI"]
    assert env["UFOP_DATA_DIR"] == "/data"
    assert {"UFOP_ADMIN_AK", "UFOP_ADMIN_SK", "UFOP_GATEWAY_ADDR"} <= set(env)
    assert any(v.startswith("ufop-data:/data") for v in spec["volumes"]), spec["volumes"]
    assert spec["depends_on"]["rabbitmq"]["condition"] == "service_healthy"


def test_the_gateway_listens_on_8080_of_the_host(config):
    gateway = config["services"]["gateway"]
    assert gateway["environment"]["UFOP_GATEWAY_ADDR"] == "0.0.0.0:8080"
    # host networking: instances publish on the host's 127.0.0.1 and the data plane goes there
    assert gateway["network_mode"] == "host"


@pytest.mark.parametrize("service", ["scheduler", "registry"])
def test_the_docker_socket_is_mounted_where_docker_is_driven(config, service):
    volumes = config["services"][service]["volumes"]
    assert any(v.startswith(f"{DOCKER_SOCKET}:{DOCKER_SOCKET}") for v in volumes), volumes


def test_the_dockerfile_builds_the_project_on_python_311_slim():
    text = (ROOT / "Dockerfile").read_text()
    lines = [line.strip() for line in text.splitlines() if line.strip() and
             not line.startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    assert any(line.startswith("RUN pip install") and " . " in f"{line} " for line in lines)
    (cmd,) = [line for line in lines if line.startswith("CMD")]
    assert cmd.startswith('CMD ["nameko", "run", "--config"'), "CMD must be in exec form"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "!pyproject.toml" in ignored and "!services/" in ignored
