"""The framework's floor for ``make bench``: a bare nameko HTTP -> RPC echo.

Two services, each run as its own ``nameko run`` process like the platform's: an HTTP service
whose one route calls the echo RPC service through nameko's plain ``RpcProxy`` and returns what
came back. Nothing else -- no signature, no store, no envelope -- so the gap between it and the
gateway is what the platform adds on top of nameko.
"""
import json

from nameko.rpc import RpcProxy, rpc
from nameko.web.handlers import http


class EchoService:
    name = "bench_echo"

    @rpc
    def echo(self, value):
        return value


class EchoHttpService:
    name = "bench_echo_http"

    echo_rpc = RpcProxy("bench_echo")

    @http("GET", "/echo/<value>")
    def echo(self, request, value):
        return json.dumps({"code": 200, "data": self.echo_rpc.echo(value)})
