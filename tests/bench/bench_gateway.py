"""``make bench``: the gateway beside the framework's floor, from one run (issue 2, Performance).

Starts, on 127.0.0.1 only and in a RabbitMQ vhost of its own:
  * the platform -- the four ``nameko run`` processes of ``ufop_common.launcher.Stack``, on a fresh
    data directory under ``$UFOP_DATA_DIR/bench`` and a free port -- and registers one ufop;
  * the floor -- a bare nameko HTTP -> RPC echo (``echo_services.py``), two ``nameko run``
    processes with the same configuration file, so the same process layout.
Then loads ``GET /api/ufops/<name>`` (signed) and ``GET /echo/<value>`` with ``wrk`` at 1 and 16
connections -- floor and gateway in turn, in rounds, medians reported, so that a machine busy
with other work weighs on both alike -- and prints throughput, p50 and p99 of each, the CPU time
their processes spent per request, and the ratios against the targets (>= 80 % of the floor's
throughput; p50 at 1 connection within 1 ms of the floor's). Exits 1 if any request failed.

A ``Qiniu`` signature without ``X-Qiniu-Date`` covers only method, path, Host and Content-Type,
so one ``Authorization`` header, computed once, is valid for every request of a fixed GET.
"""
import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import requests

from harness import (Vhost, ensure_wrk, free_port, fresh_run_dir, measure, say, signed_as,
                     start_platform)
from ufop_common.launcher import NAMEKO_CONFIG

HERE = Path(__file__).resolve().parent
NAMEKO = Path(sys.executable).with_name("nameko")
UFOP_NAME = "benchufop"
ECHO_VALUE = "hello"
TARGET_RATIO = 0.80
TARGET_P50_GAP_MS = 1.0


def signed_headers(ak, sk, method, url, body=None):
    parts = urlparse(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return signed_as(ak, sk, parts.netloc, method, path,
                     "application/json" if body is not None else None, body or b"")


def http(method, url, ak, sk, body=None):
    answer = requests.request(method, url, data=body, timeout=30,
                              headers=signed_headers(ak, sk, method, url, body))
    if answer.status_code != 200:
        raise RuntimeError(f"{method} {url}: {answer.status_code} {answer.text}")
    return answer.json().get("data")


def register_ufop(stack):
    """A plain account that owns one PROTECTED ufop; its keys and the ufop's URL."""
    url, env = stack.gateway_url, stack.env
    account = http("POST", url + "/api/accounts", env["UFOP_ADMIN_AK"], env["UFOP_ADMIN_SK"],
                   b"{}")
    ak, sk = account["accessKey"], account["secretKey"]
    http("POST", url + "/api/ufops", ak, sk,
         b'{"name": "%s", "aclMode": "PROTECTED", "desc": "bench"}' % UFOP_NAME.encode())
    target = f"{url}/api/ufops/{UFOP_NAME}"
    assert http("GET", target, ak, sk)["name"] == UFOP_NAME
    return target, signed_headers(ak, sk, "GET", target)["Authorization"]


class Floor:
    """The bare nameko HTTP -> RPC echo, as two ``nameko run`` processes."""

    SERVICES = ("EchoService", "EchoHttpService")

    def __init__(self, run_dir, amqp_uri):
        self.addr = f"127.0.0.1:{free_port()}"
        self.env = dict(os.environ, UFOP_AMQP_URI=amqp_uri, UFOP_GATEWAY_ADDR=self.addr)
        self.log_dir = run_dir / "floor"
        self.procs = []

    @property
    def url(self):
        return f"http://{self.addr}/echo/{ECHO_VALUE}"

    def start(self):
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for cls in self.SERVICES:
            with open(self.log_dir / f"{cls}.log", "ab") as log:
                self.procs.append(subprocess.Popen(
                    [str(NAMEKO), "run", "--config", str(NAMEKO_CONFIG), f"echo_services:{cls}"],
                    cwd=HERE, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True))
        return self

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError(f"the floor's processes exited; see {self.log_dir}")
            try:
                if requests.get(self.url, timeout=3).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the floor did not answer within {timeout} s; see {self.log_dir}")

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def print_table(results, seconds, rounds, load):
    print()
    print(f"make bench -- wrk -t1 --latency, {seconds} s per run, median of {rounds} "
          f"round(s), 127.0.0.1; {os.cpu_count()} CPUs, load average {load}")
    print(f"{'target':<34}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'cpu ms/req':>12}{'errors':>8}")
    for (key, connections), r in results.items():
        print(f"{LABELS[key]:<34}{connections:>6}{r['rps']:>10.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}"
              f"{r['cpu']:>12.2f}{r['errors']:>8.0f}")
    print()
    for connections in sorted({c for _, c in results}):
        ratio = results[("gateway", connections)]["rps"] / results[("floor", connections)]["rps"]
        met = ratio >= TARGET_RATIO
        print(f"gateway/floor throughput at {connections:>2} conn: {ratio:6.1%}   "
              f"(target >= {TARGET_RATIO:.0%}: {'met' if met else 'MISSED'})")
    gap = results[("gateway", 1)]["p50"] - results[("floor", 1)]["p50"]
    met = gap <= TARGET_P50_GAP_MS
    print(f"p50 at 1 conn, gateway - floor:     {gap:+.2f} ms "
          f"(target <= {TARGET_P50_GAP_MS:g} ms: {'met' if met else 'MISSED'})")


LABELS = {"floor": f"floor    GET /echo/{ECHO_VALUE}", "gateway": "gateway  GET /api/ufops/:id"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per target")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measure each pair this many times and report the medians")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--hold", action="store_true",
                        help="keep everything running after the table until Ctrl-C (to profile)")
    args = parser.parse_args()
    if 1 not in args.connections:
        parser.error("--connections must include 1 (the p50 target is at 1 connection)")
    ensure_wrk()

    run_dir = fresh_run_dir("bench")

    with Vhost() as vhost:
        stack = floor = None
        try:
            say(f"starting the platform and the floor (vhost {vhost.name or 'as given'}, "
                f"logs under {run_dir})")
            stack = start_platform(run_dir / "platform", vhost.uri)
            floor = Floor(run_dir, vhost.uri).start()
            stack.wait_healthy(90)
            floor.wait_ready(60)
            gateway_url, authorization = register_ufop(stack)
            targets = {"floor": (floor.url, {"pids": [p.pid for p in floor.procs]}),
                       "gateway": (gateway_url, {
                           "headers": (f"Authorization: {authorization}",),
                           "pids": [p.pid for p in stack.procs.values()]})}
            results, load, errors = measure(targets, args.connections, args.rounds,
                                            args.seconds, args.warmup)
            print_table(results, args.seconds, args.rounds, load)
            if args.hold:
                say(f"holding: gateway {gateway_url} (Authorization: {authorization}), "
                    f"floor {floor.url}; Ctrl-C ends")
                while True:
                    time.sleep(3600)
        except KeyboardInterrupt:
            return 130
        finally:
            if floor is not None:
                floor.stop()
            if stack is not None:
                stack.stop()
    if errors:
        say(f"{errors} requests failed during the runs: the figures are not valid")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
