"""``make bench``: ten instances of the example ufop, platform vs. sequential ``docker run``
(issue 4, Performance).

Starts a fresh platform -- ``ufop_common.launcher.Stack`` on its own data directory under
``$UFOP_DATA_DIR/bench-instances``, a free port and a RabbitMQ vhost of its own, with
``UFOP_DEFAULT_MAX_INSTANCES=10`` -- registers the example ufop (examples/fileinfo with the
static busybox copied in), builds it once through the platform and makes it current. Then, in
each round, on the same image:
  * the floor: ten sequential ``docker run -d -p 127.0.0.1::9100 <image>`` (the Docker CLI),
    each followed by polling ``GET /health`` until it answers 200;
  * the platform: ``POST /api/ufops/:id/instances {"size": 10}`` until the listing shows all ten
    ``Running`` (the answer usually does already: adding waits, bounded, for health).
Prints the medians of both times and their ratio (target: faster than the floor and < 3 s).
Every container is removed after each timing; deleting the ufop removes its image.
"""
import argparse
import io
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from urllib.parse import quote, urlparse

import docker
import requests

from ufop_common.auth import sign_qiniu
from ufop_common.config import DEFAULT_AMQP_URI
from ufop_common.launcher import Stack

REPO_ROOT = Path(__file__).resolve().parents[2]
FILEINFO = REPO_ROOT / "examples" / "fileinfo"
BUSYBOX = Path("/bin/busybox")
MANAGEMENT_URL = os.environ.get("UFOP_RABBIT_MANAGEMENT", "http://guest:guest@127.0.0.1:15672")
UFOP_NAME = "benchinstances"
COUNT = 10
TARGET_SECONDS = 3.0
DEADLINE = 120  # seconds; catches a hang, never part of a figure
FLOOR_LABEL = "ufop-bench-instances"


def say(text):
    print(f"bench: {text}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fileinfo_context():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, path, mode in (("Dockerfile", FILEINFO / "Dockerfile", 0o644),
                                 ("handler.sh", FILEINFO / "handler.sh", 0o755),
                                 ("busybox", BUSYBOX, 0o755)):
            data = path.read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class Vhost:
    """A RabbitMQ vhost of this run (management API), deleted at the end; without the API, the
    vhost of ``UFOP_AMQP_URI`` as it is."""

    def __init__(self, amqp_uri):
        self.base, self.uri, self.name = urlparse(amqp_uri), amqp_uri, None

    def __enter__(self):
        name = "ufop_bench_" + secrets.token_hex(5)
        api = f"{MANAGEMENT_URL}/api"
        try:
            requests.put(f"{api}/vhosts/{name}", timeout=10).raise_for_status()
            self.name = name
            requests.put(f"{api}/permissions/{name}/{quote(self.base.username or 'guest')}",
                         json={"configure": ".*", "write": ".*", "read": ".*"},
                         timeout=10).raise_for_status()
            self.uri = f"{self.base.scheme}://{self.base.netloc}/{name}"
        except requests.RequestException as exc:
            say(f"no management API ({exc.__class__.__name__}); using {self.uri} as it is")
        return self

    def __exit__(self, *exc):
        if self.name:
            try:
                requests.delete(f"{MANAGEMENT_URL}/api/vhosts/{self.name}", timeout=10)
            except requests.RequestException:
                pass


def start_platform(data_dir, amqp_uri):
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("UFOP_") and k.endswith("_DB"))}
    env.update(UFOP_DATA_DIR=str(data_dir), UFOP_AMQP_URI=amqp_uri,
               UFOP_GATEWAY_ADDR=f"127.0.0.1:{free_port()}",
               UFOP_ADMIN_AK="bench-admin-" + secrets.token_hex(4),
               UFOP_ADMIN_SK=secrets.token_urlsafe(24),
               UFOP_DEFAULT_MAX_INSTANCES=str(COUNT))
    return Stack(env=env).start()


def call(stack, method, path, body=None, content_type="application/json", timeout=60):
    """A request signed as the admin; its ``data`` (raises unless 200)."""
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    headers = {"Authorization": sign_qiniu(
        stack.env["UFOP_ADMIN_AK"], stack.env["UFOP_ADMIN_SK"], method, path,
        urlparse(stack.gateway_url).netloc, content_type if body is not None else None,
        body or b"")}
    if body is not None:
        headers["Content-Type"] = content_type
    answer = requests.request(method, stack.gateway_url + path, data=body, headers=headers,
                              timeout=timeout)
    if answer.status_code != 200:
        raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text}")
    return answer.json().get("data")


def wait_for(predicate, what):
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise RuntimeError(f"not within {DEADLINE} s: {what}")


def healthy(port):
    try:
        return requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def prepare_ufop(stack):
    """Register, build through the platform, make current; the image's reference."""
    call(stack, "POST", "/api/ufops", {"name": UFOP_NAME, "aclMode": "PUBLIC"})
    call(stack, "POST", f"/api/images?ufop={UFOP_NAME}&version=v1", fileinfo_context(),
         "application/octet-stream", timeout=300)

    def built():
        (row,) = call(stack, "GET", f"/api/ufops/{UFOP_NAME}/versions")
        return row["state"] != "building" and row["state"]

    state = wait_for(built, "the build")
    if state != "build success":
        raise RuntimeError(call(stack, "GET", f"/api/ufops/{UFOP_NAME}/versions/v1/log")["log"])
    call(stack, "PUT", f"/api/ufops/{UFOP_NAME}", {"version": "v1"})
    (image,) = docker.from_env().api.images(name=f"ufop/{UFOP_NAME}")
    return image["RepoTags"][0]


def platform_containers(client, stack):
    platform_id = (stack.data_dir / "platform-id").read_text().strip()
    return client.api.containers(all=True, filters={"label": f"ufop.platform={platform_id}"})


def time_platform(stack, client):
    """Seconds from POST size=10 to ten Running; then the ten are deleted."""
    listing = f"/api/ufops/{UFOP_NAME}/instances"
    started = time.perf_counter()
    answer = call(stack, "POST", listing, {"size": COUNT}, timeout=DEADLINE)
    if not all(i["state"] == "Running" for i in answer):
        wait_for(lambda: all(i["state"] == "Running" for i in call(stack, "GET", listing)),
                 "ten Running")
    elapsed = time.perf_counter() - started
    if len(answer) != COUNT:
        raise RuntimeError(f"expected {COUNT} instances, got {answer}")
    for instance in answer:
        call(stack, "DELETE", f"{listing}/{instance['index']}")
    wait_for(lambda: not platform_containers(client, stack), "the instances removed")
    return elapsed


def docker_run(image):
    """``docker run -d -p 127.0.0.1::9100 <image>``; the container's id and host port."""
    cid = subprocess.run(["docker", "run", "-d", "--label", FLOOR_LABEL, "-p",
                          "127.0.0.1::9100", image], check=True, capture_output=True,
                         text=True).stdout.strip()
    port = subprocess.run(["docker", "port", cid, "9100/tcp"], check=True, capture_output=True,
                          text=True).stdout.split()[0].rsplit(":", 1)[1]
    return cid, int(port)


def time_floor(image, client):
    """Seconds for ten sequential ``docker run`` + health waits; then the ten are removed."""
    ids = []
    try:
        started = time.perf_counter()
        for _ in range(COUNT):
            cid, port = docker_run(image)
            ids.append(cid)
            wait_for(lambda: healthy(port), f"/health of {cid[:12]}")
        return time.perf_counter() - started
    finally:
        remove_floor(client)


def remove_floor(client):
    for container in client.api.containers(all=True, filters={"label": FLOOR_LABEL}):
        client.api.remove_container(container["Id"], force=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3,
                        help="time each this many times (alternating); medians are reported")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory")
    args = parser.parse_args()
    if not BUSYBOX.is_file():
        sys.exit("bench: /bin/busybox (Debian's busybox-static) is needed to build the example")

    run_dir = Path(os.environ.get("UFOP_DATA_DIR", "./var")).resolve() / "bench-instances"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    client = docker.from_env(timeout=300)

    ok = False
    with Vhost(os.environ.get("UFOP_AMQP_URI") or DEFAULT_AMQP_URI) as vhost:
        stack = None
        try:
            say(f"starting a platform (vhost {vhost.name or 'as given'}, data in {run_dir})")
            stack = start_platform(run_dir / "platform", vhost.uri)
            stack.wait_healthy(90)
            say("building the example ufop through the platform")
            image = prepare_ufop(stack)
            say(f"warming up: one container of {image}")
            docker_run(image)
            remove_floor(client)
            floors, platforms = [], []
            for round_ in range(1, args.rounds + 1):
                say(f"round {round_}: {COUNT} sequential docker run + /health")
                floors.append(time_floor(image, client))
                say(f"round {round_}: POST size={COUNT} through the platform")
                platforms.append(time_platform(stack, client))
            floor, platform = statistics.median(floors), statistics.median(platforms)
            met = platform < floor and platform < TARGET_SECONDS
            print()
            print(f"make bench -- {COUNT} instances of examples/fileinfo ({image}), "
                  f"median of {args.rounds} round(s)")
            print(f"sequential docker run + /health:    {floor:6.2f} s   "
                  f"(rounds: {', '.join(f'{s:.2f}' for s in floors)})")
            print(f"platform POST size={COUNT} -> Running: {platform:6.2f} s   "
                  f"(rounds: {', '.join(f'{s:.2f}' for s in platforms)})")
            print(f"platform / sequential floor:        {platform / floor:6.1%}   "
                  f"(target: below 100 % and under {TARGET_SECONDS:g} s: "
                  f"{'met' if met else 'MISSED'})", flush=True)
            call(stack, "DELETE", f"/api/ufops/{UFOP_NAME}")  # its containers and image go
            wait_for(lambda: not platform_containers(client, stack), "no container left")
            ok = True
        except KeyboardInterrupt:
            return 130
        finally:
            remove_floor(client)
            if stack is not None:
                for container in platform_containers(client, stack):
                    client.api.remove_container(container["Id"], force=True)
                stack.stop()
            for image in client.api.images(name=f"ufop/{UFOP_NAME}"):
                client.api.remove_image(image["Id"], force=True)
            client.close()
            if ok and not args.keep:
                shutil.rmtree(run_dir, ignore_errors=True)
            else:
                say(f"logs kept in {run_dir}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
