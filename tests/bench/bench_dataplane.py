"""``make bench``: small calls through the data plane beside the same calls made straight to
the instance, from one run (issue 6, Performance).

Starts a fresh platform (``$UFOP_DATA_DIR/bench-dataplane``, a free port, a RabbitMQ vhost of
its own) and two PUBLIC ufops, one instance each:
  * ``fileinfo``: the example ufop (examples/fileinfo), called with a 13-byte file;
  * ``ping``: the smallest instance busybox makes -- ``nc -ll`` running a shell that reads the
    request head and answers a fixed 2-byte body -- called without a body, so that the
    instance costs as little as possible and the gateway's own cost shows.
Then loads each, with ``wrk`` at 1 and 8 connections, in rounds (medians reported, so a busy
machine weighs on both alike):
  * direct:  ``http://127.0.0.1:<published port>/handler?cmd=<ufop>``
  * gateway: ``<gateway>/ufop/<ufop>`` (sent on as ``POST /handler?cmd=<ufop>``)
and prints requests/s, p50 and p99 of each, the gateway's CPU per call, and the ratios against
the targets (gateway >= 70 % of the direct throughput; p50 no more than 2 ms above the direct
one). Exits 1 if a request failed. Both instances answer ``Connection: close`` (busybox nc
serves one request per connection), so both paths connect to them anew for every call.
"""
import argparse
import os
import sys
import time

import docker

from harness import (BUSYBOX, Timeout, Vhost, build_context, call, close_run_dir, ensure_wrk,
                     fileinfo_context, fresh_run_dir, measure, remove_images, say,
                     start_platform, wait_built, wait_for)

FILE = b"hello\nworld\n!"  # what fileinfo is called on
TARGET_RATIO = 0.70
TARGET_P50_GAP_MS = 2.0
DEADLINE = 120  # seconds; catches a hang, never part of a figure

HANDLER = b"""#!/bin/sh
# read the request head, answer "ok" (the smallest ufop: one shell per connection)
while IFS= read -r line; do
  case "$line" in "" | "$(printf '\\r')") break ;; esac
done
printf 'HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok'
"""
DOCKERFILE = b"""FROM scratch
COPY busybox /bin/busybox
COPY handler.sh /handler.sh
EXPOSE 9100
CMD ["/bin/busybox", "nc", "-ll", "-p", "9100", "-e", "/bin/busybox", "sh", "/handler.sh"]
"""


def ping_context():
    return build_context((("Dockerfile", DOCKERFILE, 0o644), ("handler.sh", HANDLER, 0o755),
                          ("busybox", BUSYBOX.read_bytes(), 0o755)))


UFOPS = {"benchping": ping_context, "benchfileinfo": fileinfo_context}


def prepare(stack, name, context):
    """``name`` built, current and running one instance; its published port."""
    call(stack, "POST", "/api/ufops", {"name": name, "aclMode": "PUBLIC"})
    call(stack, "POST", f"/api/images?ufop={name}&version=v1", context(),
         "application/octet-stream", timeout=300)
    state = wait_built(stack, name, "v1", DEADLINE, 0.1)
    if state != "build success":
        raise RuntimeError(call(stack, "GET", f"/api/ufops/{name}/versions/v1/log")["log"])
    call(stack, "PUT", f"/api/ufops/{name}", {"version": "v1"})
    call(stack, "POST", f"/api/ufops/{name}/instances", {"size": 1}, timeout=DEADLINE)
    wait_for(lambda: call(stack, "GET", f"/api/ufops/{name}/instances")[0]["state"]
             == "Running", "the instance Running", DEADLINE)
    client = docker.from_env()
    platform_id = (stack.data_dir / "platform-id").read_text().strip()
    (container,) = client.api.containers(filters={"label": [f"ufop.platform={platform_id}",
                                                            f"ufop.name={name}"]})
    client.close()
    (published,) = [p for p in container["Ports"] if p.get("PrivatePort") == 9100]
    return published["PublicPort"]


def post_script(run_dir):
    """A ``wrk -s`` script that POSTs ``FILE``."""
    script = run_dir / "post.lua"
    body = FILE.decode().replace("\n", "\\n")
    script.write_text(f'wrk.method = "POST"\nwrk.body = "{body}"\n'
                      f'wrk.headers["Content-Type"] = "application/octet-stream"\n')
    return str(script)


def print_table(results, seconds, rounds, load):
    print()
    print(f"make bench (data plane) -- wrk -t1 --latency, {seconds} s per run, median of "
          f"{rounds} round(s), 127.0.0.1; {os.cpu_count()} CPUs, load average {load}")
    print(f"{'ufop':<15}{'path':<9}{'conns':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'errors':>8}{'gateway cpu ms/call':>21}")
    for (name, path, connections), r in results.items():
        print(f"{name:<15}{path:<9}{connections:>6}{r['rps']:>10.0f}{r['p50']:>9.2f}"
              f"{r['p99']:>9.2f}{r['errors']:>8.0f}{r['cpu']:>21.2f}")
    print()
    for name, _, connections in [k for k in results if k[1] == "gateway"]:
        gateway, direct = results[(name, "gateway", connections)], results[(name, "direct",
                                                                             connections)]
        ratio, gap = gateway["rps"] / direct["rps"], gateway["p50"] - direct["p50"]
        print(f"{name:<15} at {connections:>2} conn: gateway/direct throughput {ratio:6.1%} "
              f"(target >= {TARGET_RATIO:.0%}: {'met' if ratio >= TARGET_RATIO else 'MISSED'}), "
              f"p50 added {gap:+.2f} ms (target <= {TARGET_P50_GAP_MS:g} ms: "
              f"{'met' if gap <= TARGET_P50_GAP_MS else 'MISSED'})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per target")
    parser.add_argument("--rounds", type=int, default=3,
                        help="measure each pair this many times and report the medians")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--keep", action="store_true", help="keep the run's directory")
    parser.add_argument("--hold", action="store_true",
                        help="keep everything running after the table until Ctrl-C (to profile)")
    args = parser.parse_args()
    ensure_wrk()
    run_dir = fresh_run_dir("bench-dataplane")
    errors = 0
    with Vhost() as vhost:
        stack = None
        try:
            say(f"starting the platform (vhost {vhost.name or 'as given'}, logs in {run_dir})")
            stack = start_platform(run_dir, vhost.uri)
            stack.wait_healthy(90)
            script = post_script(run_dir)
            gateway_pid = stack.procs["gateway"].pid
            targets = {}  # (ufop, path) -> (url, wrk options)
            for name, context in UFOPS.items():
                say(f"building {name} and starting its instance")
                port = prepare(stack, name, context)
                options = {"pids": [gateway_pid]}
                if name == "benchfileinfo":
                    options["script"] = script
                targets[(name, "direct")] = (f"http://127.0.0.1:{port}/handler?cmd={name}",
                                             options)
                targets[(name, "gateway")] = (f"{stack.gateway_url}/ufop/{name}", options)
            results, load, errors = measure(targets, args.connections, args.rounds,
                                            args.seconds, args.warmup)
            print_table(results, args.seconds, args.rounds, load)
            if args.hold:
                say(f"holding: {targets}; gateway pid {gateway_pid}; Ctrl-C ends")
                while True:
                    time.sleep(3600)
        except (Timeout, RuntimeError) as exc:
            say(f"failed: {exc}")
            errors = errors or 1
        except KeyboardInterrupt:
            return 130
        finally:
            if stack is not None:
                for name in UFOPS:
                    try:
                        call(stack, "DELETE", f"/api/ufops/{name}", timeout=DEADLINE)
                    except Exception as exc:  # the platform may be the thing that failed
                        say(f"could not delete {name}: {exc}")
                stack.stop()
                for name in UFOPS:
                    remove_images(f"ufop/{name}")
        close_run_dir(run_dir, remove=not (args.keep or errors))
    if errors:
        say(f"{errors} requests failed during the runs: the figures are not valid")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
