"""Prometheus metrics of the gateway process (``GET /metrics``).

Latencies are measured to the answer's headers: a streamed answer's body may take as long as
the client reads it. RPC latency is observed by ``ufop_common.rpc`` for every call this
process makes (``ufop_rpc_seconds``).
"""
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

REQUESTS = Counter("ufop_gateway_requests_total", "HTTP requests answered",
                   ["method", "route", "code"])
LATENCY = Histogram("ufop_gateway_request_seconds", "Time to the response's headers",
                    ["method", "route"], buckets=BUCKETS)
INVOCATIONS = Counter("ufop_invocations_total",
                      "Data plane calls of a ufop, by the status answered to the caller",
                      ["ufop", "code"])
INVOCATION_LATENCY = Histogram("ufop_invocation_seconds",
                               "Data plane: time from the call to the answer's headers",
                               ["ufop"], buckets=BUCKETS)
RETRIES = Counter("ufop_invocation_retries_total",
                  "Data plane calls tried again on another instance", ["ufop"])


def observe(method, route, code, seconds):
    REQUESTS.labels(method, route, str(code)).inc()
    LATENCY.labels(method, route).observe(seconds)


def observe_invocation(ufop, code, seconds):
    INVOCATIONS.labels(ufop, str(code)).inc()
    INVOCATION_LATENCY.labels(ufop).observe(seconds)


def exposition():
    return generate_latest(), CONTENT_TYPE_LATEST
