"""Configuration from environment variables, with the defaults of SPEC §9."""
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_FLAVORS = {"default": {"cpus": 1.0, "memory": "512m"}}


def _env(name, default):
    value = os.environ.get(name)
    return default if value in (None, "") else value


@dataclass(frozen=True)
class Settings:
    amqp_uri: str = DEFAULT_AMQP_URI
    data_dir: Path = Path("./var")
    gateway_addr: str = "127.0.0.1:8080"
    rpc_timeout: float = 10.0
    admin_ak: str = ""
    admin_sk: str = ""
    max_image_bytes: int = 1 << 30
    max_body_bytes: int = 1 << 20
    max_instance_cap: int = 10
    default_max_instances: int = 5
    flavors: dict = field(default_factory=lambda: dict(DEFAULT_FLAVORS))
    date_window_seconds: int = 15 * 60
    build_timeout: float = 1800.0
    max_restarts: int = 3
    health_timeout: float = 30.0
    start_wait: float = 15.0
    reconcile_interval: float = 2.0
    invoke_timeout: float = 30.0
    max_invoke_bytes: int = 1 << 30
    route_ttl: float = 30.0
    log_retention_lines: int = 10000
    max_builds: int = 2

    def db_url(self, service):
        """The store of ``service``: ``UFOP_<SERVICE>_DB`` or a SQLite file in the data dir."""
        url = os.environ.get(f"UFOP_{service.upper()}_DB")
        if url:
            return url
        return f"sqlite:///{(self.data_dir / f'{service}.db').resolve()}"


def load():
    flavors = _env("UFOP_FLAVORS", "")
    return Settings(
        amqp_uri=_env("UFOP_AMQP_URI", DEFAULT_AMQP_URI),
        data_dir=Path(_env("UFOP_DATA_DIR", "./var")),
        gateway_addr=_env("UFOP_GATEWAY_ADDR", "127.0.0.1:8080"),
        rpc_timeout=float(_env("UFOP_RPC_TIMEOUT", "10")),
        admin_ak=_env("UFOP_ADMIN_AK", ""),
        admin_sk=_env("UFOP_ADMIN_SK", ""),
        max_image_bytes=int(_env("UFOP_MAX_IMAGE_BYTES", str(1 << 30))),
        max_body_bytes=int(_env("UFOP_MAX_BODY_BYTES", str(1 << 20))),
        max_instance_cap=int(_env("UFOP_MAX_INSTANCE_CAP", "10")),
        default_max_instances=int(_env("UFOP_DEFAULT_MAX_INSTANCES", "5")),
        flavors=json.loads(flavors) if flavors else dict(DEFAULT_FLAVORS),
        build_timeout=float(_env("UFOP_BUILD_TIMEOUT", "1800")),
        max_builds=int(_env("UFOP_MAX_BUILDS", "2")),
        max_restarts=int(_env("UFOP_MAX_RESTARTS", "3")),
        health_timeout=float(_env("UFOP_HEALTH_TIMEOUT", "30")),
        start_wait=float(_env("UFOP_START_WAIT", "15")),
        reconcile_interval=float(_env("UFOP_RECONCILE_INTERVAL", "2")),
        invoke_timeout=float(_env("UFOP_INVOKE_TIMEOUT", "30")),
        max_invoke_bytes=int(_env("UFOP_MAX_INVOKE_BYTES", str(1 << 30))),
        route_ttl=float(_env("UFOP_ROUTE_TTL", "30")),
        log_retention_lines=int(_env("UFOP_LOG_RETENTION_LINES", "10000")),
    )
