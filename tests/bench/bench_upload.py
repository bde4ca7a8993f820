"""``make bench``: a 200 MiB image upload through the gateway (issue 3, Performance).

Makes a build context of that size (a Dockerfile and a random file, plain tar) under
``$UFOP_DATA_DIR/bench-upload``, then, in the same run and on the same filesystem:
  * copies it with ``shutil.copyfile`` (the floor: what the disk and page cache allow);
  * uploads it as ``application/octet-stream`` (a streamed file object) through the gateway of a
    fresh platform -- ``ufop_common.launcher.Stack`` on its own data directory, a free port and a
    RabbitMQ vhost of its own -- while a thread samples the gateway process's RSS every 50 ms.
Prints both rates, their ratio and the gateway's peak RSS (target < 100 MiB: the body is
streamed to the blob store, never held whole). The upload's time runs until the answer, so it
includes the registry's archive check; the build that follows is not timed. Each timing starts
after ``sync``, neither waits for its data to reach the disk.
"""
import argparse
import io
import os
import secrets
import shutil
import signal
import socket
import statistics
import sys
import tarfile
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlparse

import docker
import requests

from ufop_common.auth import sign_qiniu
from ufop_common.config import DEFAULT_AMQP_URI
from ufop_common.launcher import Stack

MANAGEMENT_URL = os.environ.get("UFOP_RABBIT_MANAGEMENT", "http://guest:guest@127.0.0.1:15672")
MIB = 1 << 20
RSS_TARGET_MIB = 100
SAMPLE_SECONDS = 0.05
UFOP_NAME = "benchupload"
DOCKERFILE = b"FROM scratch\nLABEL bench=upload\n"
DOCKERIGNORE = b"payload.bin\n"  # the build itself is not what is measured


def say(text):
    print(f"bench: {text}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RandomBytes:
    """A file-like source of ``size`` random bytes (so the archive is never held in memory)."""

    def __init__(self, size):
        self.left = size

    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        self.left -= n
        return os.urandom(n)


def make_archive(path, size):
    with tarfile.open(path, "w") as tar:
        for name, data in (("Dockerfile", DOCKERFILE), (".dockerignore", DOCKERIGNORE)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("payload.bin")
        info.size, info.mode = size, 0o644
        tar.addfile(info, RandomBytes(size))


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


class RssSampler(threading.Thread):
    """The peak VmRSS of process ``pid``, sampled every 50 ms until ``stop()``."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.samples = pid, 0, 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            self.peak = max(self.peak, status_kib(self.pid, "VmRSS"))
            self.samples += 1
            self.done.wait(SAMPLE_SECONDS)

    def stop(self):
        self.done.set()
        self.join()
        return self.peak


def status_kib(pid, field):
    """A ``/proc/<pid>/status`` memory figure (kB) of the process."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def start_platform(data_dir, amqp_uri):
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("UFOP_") and k.endswith("_DB"))}
    env.update(UFOP_DATA_DIR=str(data_dir), UFOP_AMQP_URI=amqp_uri,
               UFOP_GATEWAY_ADDR=f"127.0.0.1:{free_port()}",
               UFOP_ADMIN_AK="bench-admin-" + secrets.token_hex(4),
               UFOP_ADMIN_SK=secrets.token_urlsafe(24))
    return Stack(env=env).start()


def signed(stack, method, path, content_type=None, body=b""):
    host = urlparse(stack.gateway_url).netloc
    headers = {"Authorization": sign_qiniu(stack.env["UFOP_ADMIN_AK"],
                                           stack.env["UFOP_ADMIN_SK"], method, path, host,
                                           content_type, body)}
    if content_type:
        headers["Content-Type"] = content_type
    return headers


def call(stack, method, path, body=None):
    data = None if body is None else body.encode()
    answer = requests.request(method, stack.gateway_url + path, data=data, timeout=60,
                              headers=signed(stack, method, path,
                                             "application/json" if data else None, data or b""))
    if answer.status_code != 200:
        raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text}")
    return answer.json().get("data")


def timed_copy(src, dst):
    os.sync()  # each timing starts with nothing left to write back
    started = time.perf_counter()
    shutil.copyfile(src, dst)
    return time.perf_counter() - started


def timed_upload(stack, archive, version):
    path = f"/api/images?ufop={UFOP_NAME}&version={version}"
    headers = signed(stack, "POST", path, "application/octet-stream")
    os.sync()
    with open(archive, "rb") as body:  # requests streams a file object, with Content-Length
        started = time.perf_counter()
        answer = requests.post(stack.gateway_url + path, data=body, headers=headers,
                               timeout=600)
        elapsed = time.perf_counter() - started
    if answer.status_code != 200:
        raise RuntimeError(f"upload: {answer.status_code} {answer.text}")
    return elapsed, answer.json()["data"]


def wait_built(stack, version, deadline):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        listed = call(stack, "GET", f"/api/ufops/{UFOP_NAME}/versions")
        state = next(v["state"] for v in listed if v["version"] == version)
        if state != "building":
            return state
        time.sleep(1)
    return "building"


def remove_images(repo, deadline=30):
    """Wait for the registry to remove the run's images; remove what is left after that."""
    client = docker.from_env()
    end = time.monotonic() + deadline
    while (left := client.api.images(name=repo)) and time.monotonic() < end:
        time.sleep(0.5)
    for image in left:
        client.api.remove_image(image["Id"], force=True)
    client.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=200, help="size of the random file")
    parser.add_argument("--rounds", type=int, default=3,
                        help="copy and upload this many times each; medians are reported")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory")
    args = parser.parse_args()

    run_dir = Path(os.environ.get("UFOP_DATA_DIR", "./var")).resolve() / "bench-upload"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    archive, copy = run_dir / "archive.tar", run_dir / "copy.tar"

    say(f"making a {args.size_mib} MiB build context in {archive}")
    make_archive(archive, args.size_mib * MIB)
    size = archive.stat().st_size

    ok = False
    with Vhost(os.environ.get("UFOP_AMQP_URI") or DEFAULT_AMQP_URI) as vhost:
        stack = None
        try:
            say(f"starting a platform (vhost {vhost.name or 'as given'}, data in {run_dir})")
            stack = start_platform(run_dir / "platform", vhost.uri)
            stack.wait_healthy(90)
            call(stack, "POST", "/api/ufops",
                 f'{{"name": "{UFOP_NAME}", "aclMode": "PRIVATE"}}')

            gateway_pid = stack.procs["gateway"].pid
            rss_before = status_kib(gateway_pid, "VmRSS")
            copies, uploads, states, rss_peak, samples = [], [], [], 0, 0
            for round_ in range(1, args.rounds + 1):
                say(f"round {round_}: copying the archive with shutil.copyfile")
                copies.append(timed_copy(archive, copy))
                copy.unlink()
                say(f"round {round_}: uploading it through the gateway")
                sampler = RssSampler(gateway_pid)
                sampler.start()
                try:
                    seconds, answer = timed_upload(stack, archive, str(round_))
                finally:
                    rss_peak = max(rss_peak, sampler.stop())
                    samples += sampler.samples
                uploads.append(seconds)
                say(f"round {round_}: waiting for the build to end (not timed)")
                states.append(wait_built(stack, str(round_), 300))
            hwm = status_kib(gateway_pid, "VmHWM")
            call(stack, "DELETE", f"/api/ufops/{UFOP_NAME}")  # removes its images and blob
            remove_images(f"ufop/{UFOP_NAME}")
            copy_seconds, upload_seconds = statistics.median(copies), statistics.median(uploads)

            copy_rate, upload_rate = size / copy_seconds / 1e6, size / upload_seconds / 1e6
            met = rss_peak / 1024 < RSS_TARGET_MIB
            print()
            print(f"make bench -- upload of a {size / MIB:.1f} MiB archive "
                  f"(application/octet-stream, streamed file object), 127.0.0.1, "
                  f"median of {args.rounds} round(s)")
            print(f"copy to disk (shutil.copyfile):  {copy_seconds:7.2f} s  "
                  f"{copy_rate:8.1f} MB/s")
            print(f"upload through the gateway:      {upload_seconds:7.2f} s  "
                  f"{upload_rate:8.1f} MB/s   (answer: {answer['state']}; builds: "
                  f"{', '.join(sorted(set(states)))})")
            print(f"upload / copy:                   {upload_rate / copy_rate:7.1%}")
            print(f"gateway RSS: {rss_before / 1024:.1f} MiB before, peak {rss_peak / 1024:.1f} "
                  f"MiB during the uploads ({samples} samples every "
                  f"{SAMPLE_SECONDS * 1000:.0f} ms; VmHWM {hwm / 1024:.1f} MiB) -- "
                  f"target < {RSS_TARGET_MIB} MiB: {'met' if met else 'MISSED'}", flush=True)
            ok = True
        except KeyboardInterrupt:
            return 130
        finally:
            if stack is not None:
                stack.stop()
            if ok and not args.keep:
                shutil.rmtree(run_dir, ignore_errors=True)
            else:
                archive.unlink(missing_ok=True)
                copy.unlink(missing_ok=True)
                say(f"logs kept in {run_dir}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
