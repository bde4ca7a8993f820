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
import statistics
import subprocess
import sys
import time

import docker
import requests

from harness import (BUSYBOX, Vhost, call, close_run_dir, fileinfo_context, fresh_run_dir, say,
                     start_platform, wait_built, wait_for)

UFOP_NAME = "benchinstances"
COUNT = 10
TARGET_SECONDS = 3.0
DEADLINE = 120  # seconds; catches a hang, never part of a figure
FLOOR_LABEL = "ufop-bench-instances"


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
    state = wait_built(stack, UFOP_NAME, "v1", DEADLINE, 0.02)
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
                 "ten Running", DEADLINE)
    elapsed = time.perf_counter() - started
    if len(answer) != COUNT:
        raise RuntimeError(f"expected {COUNT} instances, got {answer}")
    for instance in answer:
        call(stack, "DELETE", f"{listing}/{instance['index']}")
    wait_for(lambda: not platform_containers(client, stack), "the instances removed", DEADLINE)
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
            wait_for(lambda: healthy(port), f"/health of {cid[:12]}", DEADLINE)
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

    run_dir = fresh_run_dir("bench-instances")
    client = docker.from_env(timeout=300)

    ok = False
    with Vhost() as vhost:
        stack = None
        try:
            say(f"starting a platform (vhost {vhost.name or 'as given'}, data in {run_dir})")
            stack = start_platform(run_dir / "platform", vhost.uri,
                                   UFOP_DEFAULT_MAX_INSTANCES=COUNT)
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
            wait_for(lambda: not platform_containers(client, stack), "no container left",
                     DEADLINE)
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
            close_run_dir(run_dir, ok and not args.keep)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
