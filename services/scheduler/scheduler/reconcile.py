"""Plan, then act (STYLE 4): what must change to bring Docker and the store into agreement.

``plan`` is a pure function of the instance records, the containers Docker reports, the
health probes just made and the time; it returns actions that ``service`` applies. It never
touches an instance another operation holds (``busy``): that operation owns it meanwhile.
"""
from dataclasses import dataclass, replace
from datetime import timedelta

from .models import FAILED, RUNNING, STARTING, STOPPED


@dataclass(frozen=True)
class Observed:
    """A container as Docker reports it."""

    id: str
    ufop_id: int
    index: int
    running: bool
    host_port: int = 0
    name: str = ""
    version: str = ""


@dataclass(frozen=True)
class Policy:
    max_restarts: int = 3
    health_timeout: float = 30.0  # seconds a new container may take to answer /health
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    unhealthy_after: int = 3  # failed probes in a row before a Running instance restarts
    stable_after: float = 60.0  # Running this long forgives earlier restarts


@dataclass(frozen=True)
class Action:
    kind: str  # remove create restart stop mark fail probe_failed probe_ok forgive
    record_id: int = 0
    container_id: str = ""
    state: str = ""
    reason: str = ""


def backoff(restarts, policy):
    return min(policy.backoff_base * (2 ** restarts), policy.backoff_max)


def plan(records, containers, health, now, policy, busy=frozenset()):
    """The actions that reconcile ``records`` with ``containers``.

    ``health`` maps a record id to the result of a /health probe made just now (only for
    instances whose container runs). Records and containers of ``busy`` instances are left
    alone.
    """
    actions = []
    by_id = {c.id: c for c in containers}
    owned = {r.container_id for r in records if r.container_id}

    for container in containers:
        if container.id in owned or (container.ufop_id, container.index) in busy:
            continue
        actions.append(Action("remove", container_id=container.id,
                              reason="no instance record owns it"))

    for record in records:
        if (record.ufop_id, record.index) in busy:
            continue
        container = by_id.get(record.container_id) if record.container_id else None
        # every action carries the container id the record had when planned: applying it
        # checks that nothing changed the instance in between
        actions.extend(replace(action, container_id=record.container_id) for action in
                       _plan_one(record, container, health.get(record.id), now, policy))
    return actions


def _due(record, now):
    return record.next_try_at is None or record.next_try_at <= now


def _plan_one(record, container, healthy, now, policy):
    if record.desired == "stopped":
        if container is not None and container.running:
            return [Action("stop", record.id, container.id, reason="stop was asked for")]
        if record.state != STOPPED:
            return [Action("mark", record.id, state=STOPPED, reason="stopped")]
        return []

    if record.state == FAILED:
        return []  # out of restart attempts: it waits for start or reboot

    if container is None:
        if not _due(record, now):
            return []
        if record.restarts >= policy.max_restarts:  # gone, or could not even be made
            return [Action("fail", record.id, reason="it has no container and is out of "
                                                      "restart attempts")]
        return [Action("create", record.id, reason="it should run and has no container")]

    if not container.running:
        if record.restarts >= policy.max_restarts:
            return [Action("fail", record.id, container.id,
                           reason=f"exited {record.restarts} times")]
        if not _due(record, now):
            return []
        return [Action("restart", record.id, container.id, reason="its container exited")]

    if record.state == STARTING:
        if healthy:
            return [Action("mark", record.id, container.id, RUNNING, reason="healthy")]
        started = record.started_at or now
        if now - started > timedelta(seconds=policy.health_timeout):
            if record.restarts >= policy.max_restarts:
                return [Action("fail", record.id, container.id,
                               reason=f"never healthy within {policy.health_timeout:g} s")]
            return [Action("restart", record.id, container.id,
                           reason=f"not healthy within {policy.health_timeout:g} s")]
        return []

    if record.state == RUNNING:
        if healthy is False:
            if record.unhealthy + 1 >= policy.unhealthy_after:
                if record.restarts >= policy.max_restarts:
                    return [Action("fail", record.id, container.id, reason="unhealthy")]
                return [Action("restart", record.id, container.id, reason="unhealthy")]
            return [Action("probe_failed", record.id, container.id)]
        if healthy and record.unhealthy:
            return [Action("probe_ok", record.id, container.id)]
        started = record.started_at or now
        if record.restarts and now - started > timedelta(seconds=policy.stable_after):
            return [Action("forgive", record.id, container.id)]
        return []

    # Stopped or Failed records that should run again are moved by start/reboot, not here;
    # a Stopped record whose container runs (started by hand) is adopted as Starting.
    if record.state == STOPPED:
        return [Action("mark", record.id, container.id, STARTING, reason="its container runs")]
    return []
