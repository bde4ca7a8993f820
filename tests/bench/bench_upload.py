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
import shutil
import statistics
import sys
import tarfile
import threading
import time

import requests

from harness import (Timeout, Vhost, call, close_run_dir, fresh_run_dir, remove_images, say,
                     signed, start_platform, wait_built)

MIB = 1 << 20
RSS_TARGET_MIB = 100
SAMPLE_SECONDS = 0.05
UFOP_NAME = "benchupload"
DOCKERFILE = b"FROM scratch\nLABEL bench=upload\n"
DOCKERIGNORE = b"payload.bin\n"  # the build itself is not what is measured


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=200, help="size of the random file")
    parser.add_argument("--rounds", type=int, default=3,
                        help="copy and upload this many times each; medians are reported")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory")
    args = parser.parse_args()

    run_dir = fresh_run_dir("bench-upload")
    archive, copy = run_dir / "archive.tar", run_dir / "copy.tar"

    say(f"making a {args.size_mib} MiB build context in {archive}")
    make_archive(archive, args.size_mib * MIB)
    size = archive.stat().st_size

    ok = False
    with Vhost() as vhost:
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
                try:
                    states.append(wait_built(stack, UFOP_NAME, str(round_), 300, 1))
                except Timeout:
                    states.append("building")
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
            if not ok or args.keep:
                archive.unlink(missing_ok=True)
                copy.unlink(missing_ok=True)
            close_run_dir(run_dir, ok and not args.keep)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
