"""Prometheus metrics of the gateway process (``GET /metrics``)."""
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

REQUESTS = Counter("ufop_gateway_requests_total", "HTTP requests answered",
                   ["method", "route", "code"])
LATENCY = Histogram("ufop_gateway_request_seconds", "Time to the response's headers",
                    ["method", "route"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                             5, 10, 30))


def observe(method, route, code, seconds):
    REQUESTS.labels(method, route, str(code)).inc()
    LATENCY.labels(method, route).observe(seconds)


def exposition():
    return generate_latest(), CONTENT_TYPE_LATEST
