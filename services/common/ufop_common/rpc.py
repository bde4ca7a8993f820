"""RPC with a deadline.

nameko's in-service ``RpcProxy`` waits for a reply forever. ``DeadlineRpc`` keeps its shared
reply queue and pooled publisher (so it is as fast) but bounds the whole call -- publish and
reply -- by ``UFOP_RPC_TIMEOUT``. A request that misses the deadline also expires in the
target's queue (message TTL), so a service that comes back later never acts on a request whose
caller was already told 503.
"""
import logging
import socket
import time

import eventlet
from amqp.exceptions import AMQPError
from kombu.exceptions import KombuError, OperationalError
from nameko.amqp.publish import Publisher
from nameko.constants import (AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, DEFAULT_SERIALIZER,
                              LOGIN_METHOD_CONFIG_KEY, SERIALIZER_CONFIG_KEY)
from nameko.exceptions import UnknownService
from nameko.rpc import (MethodProxy, Responder, RpcConsumer, RpcProxy, ServiceProxy,
                        get_rpc_exchange)
from nameko.rpc import Rpc as _Rpc
from prometheus_client import Histogram

from . import config
from .errors import ServiceUnavailable, UfopError

log = logging.getLogger(__name__)

#: every call made through ``DeadlineRpc`` in this process, by target and outcome
#: (``ok``, ``error``: the service answered an error, ``unavailable``: no answer in time)
RPC_LATENCY = Histogram("ufop_rpc_seconds", "RPC calls to the platform's services",
                        ["service", "method", "outcome"],
                        buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                 0.5, 1, 2.5, 5, 10, 30))


class ReplyPublisher(Publisher):
    use_confirms = False


class ReplyResponder(Responder):
    publisher_cls = ReplyPublisher


class RpcReplies(RpcConsumer):
    """nameko's ``RpcConsumer``, sending replies without publisher confirms.

    Every caller of our services waits with a deadline (``DeadlineRpc``): the reply is the
    acknowledgement, and a reply the broker lost ends like a reply that never came. Waiting
    for the broker to confirm each reply cost a broker round trip and its frame handling on
    every call (about 0.25 ms of p50 in ``make bench``). A reply that cannot be written still
    raises, and the request is then not acknowledged, as in nameko.
    """

    def handle_result(self, message, result, exc_info):
        config_ = self.container.config
        responder = ReplyResponder(
            config_[AMQP_URI_CONFIG_KEY], get_rpc_exchange(config_),
            config_.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER), message,
            ssl=config_.get(AMQP_SSL_CONFIG_KEY),
            login_method=config_.get(LOGIN_METHOD_CONFIG_KEY))
        result, exc_info = responder.send_response(result, exc_info)
        self.queue_consumer.ack_message(message)
        return result, exc_info


class Rpc(_Rpc):
    """nameko's RPC entrypoint, its replies sent by ``RpcReplies``."""

    rpc_consumer = RpcReplies()


#: ``@rpc`` for our services: UfopErrors are answers, logged as expected, not as crashes
rpc = Rpc.decorator(expected_exceptions=UfopError)


class AtMostOnceRpc(Rpc):
    """An RPC entrypoint for a call that must not run twice. A request is acknowledged once
    its worker ends, so a service killed in the middle of one gets it again when it comes
    back: this answers such a redelivered request ``ServiceUnavailable`` instead of running
    it a second time (what the first run recorded is finished by the service itself)."""

    def handle_message(self, body, message):
        if message.delivery_info.get("redelivered"):
            log.warning("%s: not running a redelivered request again", self.method_name)
            error = ServiceUnavailable(
                f"{self.container.service_name} restarted while handling this request; "
                f"it may have been done in part: look before trying again")
            self.rpc_consumer.handle_result(message, None, (type(error), error, None))
            return
        super().handle_message(body, message)


at_most_once_rpc = AtMostOnceRpc.decorator(expected_exceptions=UfopError)

BROKER_ERRORS = (OSError, socket.error, AMQPError, KombuError, OperationalError,
                 ConnectionError)


class DeadlineMethodProxy(MethodProxy):
    def __init__(self, worker_ctx, service_name, method_name, reply_listener, timeout,
                 **options):
        self.timeout = timeout
        super().__init__(worker_ctx, service_name, method_name, reply_listener, **options)

    def __call__(self, *args, **kwargs):
        return self.call_with_deadline(self.timeout, *args, **kwargs)

    def call_with_deadline(self, timeout, *args, **kwargs):
        started, outcome = time.perf_counter(), "ok"
        try:
            return self._call_with_deadline(timeout, *args, **kwargs)
        except Exception as exc:
            outcome = "unavailable" if isinstance(exc, ServiceUnavailable) else "error"
            raise
        finally:
            RPC_LATENCY.labels(self.service_name, self.method_name, outcome).observe(
                time.perf_counter() - started)

    def _call_with_deadline(self, timeout, *args, **kwargs):
        target = f"{self.service_name}.{self.method_name}"
        correlation = None
        try:
            with eventlet.Timeout(timeout):
                reply = self._call(*args, **kwargs)
                correlation = reply
                return reply.result()
        except eventlet.Timeout:
            self._forget(correlation)
            raise ServiceUnavailable(f"{self.service_name} did not answer within {timeout:g} s")
        except UnknownService:
            raise ServiceUnavailable(f"{self.service_name} is not running")
        except BROKER_ERRORS as exc:
            log.warning("rpc %s failed: %r", target, exc)
            raise ServiceUnavailable("the message broker is unavailable")

    def _forget(self, reply):
        """Drop the pending reply slot of a call that timed out."""
        if reply is None:
            return
        events = self.reply_listener._reply_events
        for key, value in list(events.items()):
            if value is reply.reply_event:
                events.pop(key, None)


class DeadlineServiceProxy(ServiceProxy):
    def __init__(self, worker_ctx, service_name, reply_listener, timeout, **options):
        self.timeout = timeout
        super().__init__(worker_ctx, service_name, reply_listener, **options)

    def __getattr__(self, name):
        return DeadlineMethodProxy(self.worker_ctx, self.service_name, name,
                                   self.reply_listener, self.timeout, **self.options)


class DeadlineRpc(RpcProxy):
    """``RpcProxy`` whose calls raise ``ServiceUnavailable`` after ``timeout`` seconds."""

    def __init__(self, target_service, timeout=None, **options):
        self.timeout = timeout
        super().__init__(target_service, **options)

    def setup(self):
        if self.timeout is None:
            self.timeout = config.load().rpc_timeout
        # one quick retry of the publish, always inside the deadline
        self.options.setdefault("retry_policy", {"max_retries": 1, "interval_start": 0.2,
                                                 "interval_step": 0.2, "interval_max": 0.5})
        self.options.setdefault("expiration", self.timeout)
        super().setup()

    def get_dependency(self, worker_ctx):
        return DeadlineServiceProxy(worker_ctx, self.target_service, self.rpc_reply_listener,
                                    self.timeout, **self.options)
