"""Ray for vlm-car: connecting to a cluster, and refusing nodes weaker than the isolation asked for.

Provides:
    import_ray: the ``ray`` module, or :class:`rl.errors.RayUnavailableError` saying how to get it.
    connect_ray: join a cluster (``auto``: ``RAY_ADDRESS``, one ``ray start`` began here, else a new
        local instance; or ``HOST:PORT``) with a clear error when nothing answers.
    check_nodes: run a probe on every alive node; refuse, naming the node, if one lacks a layer the
        isolation level needs (:class:`rl.errors.NodeIsolationError`).
    missing_layers: the layers a level needs that this machine lacks.

Used by ``vlmcar relabel --ray`` (:mod:`rl.relabel`) and ``vlmcar train --ray``
(:func:`rl.training.run_jobs_on_ray`). Ray is the optional extra ``vlm-car[ray]``; nothing here
imports it until a function is called.
"""

from __future__ import annotations

import importlib
import socket
from typing import Any

from rl.errors import NodeIsolationError, RayUnavailableError

__all__ = ["check_nodes", "connect_ray", "import_ray", "missing_layers"]


def missing_layers(level: str) -> list[str]:
    """The layers ``level`` needs that this machine lacks (empty: it can run ``level``)."""
    if level != "strict":
        return []
    from sandbox.oslimits import probe, required_layers

    reports = probe()
    available = {r.name for r in reports if r.available}
    required = set(required_layers(reports))
    return [f"{r.name}: {r.detail}" for r in reports if r.name in required - available]


def _node_check(level: str) -> tuple[str, list[str]]:
    """This node's host name and the layers ``level`` needs that it lacks (a Ray probe task)."""
    return socket.gethostname(), missing_layers(level)


def import_ray() -> Any:
    """The ``ray`` module (raises :class:`RayUnavailableError` with the install command)."""
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise RayUnavailableError(
            "--ray",
            "Ray is not installed: pip install 'vlm-car[ray]' (or pip install 'ray>=2.9,<3'), "
            "or run without --ray",
        ) from None


def _reachable(address: str) -> str | None:
    """Why ``host:port`` (optionally ``ray://``) cannot be reached, or None when it answers."""
    bare = address.removeprefix("ray://")
    host, sep, port = bare.rpartition(":")
    if not sep or not port.isdigit():
        return None  # not host:port: leave it to ray.init
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=3):
            return None
    except OSError as err:
        return err.strerror or str(err)


def connect_ray(address: str, workers: int | None) -> tuple[Any, bool]:
    """Import Ray and connect; return ``(ray, started)`` (``started``: this call connected).

    Args:
        address: ``"auto"`` (a running cluster: ``RAY_ADDRESS`` or one ``ray start`` began on
            this machine, else a new local instance) or a cluster address (``HOST:PORT``,
            ``ray://HOST:PORT``).
        workers: CPUs of a new local instance (None: all).

    A process that already called ``ray.init`` keeps its connection (an explicit ``address``
    must still answer).

    Raises:
        RayUnavailableError: Ray is not installed, or nothing answers at ``address``.
    """
    ray = import_ray()
    if address != "auto":
        why = _reachable(address)
        if why is not None:
            raise RayUnavailableError(
                f"--ray {address}",
                f"no Ray cluster answers there ({why}); start one with `ray start --head` on the "
                "head machine (it prints the address to pass, HOST:6379), or use --ray auto for a "
                "local one",
            )
    if ray.is_initialized():
        return ray, False
    import logging

    options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
    if address == "auto":
        try:
            ray.init(**options, **({"num_cpus": workers} if workers else {}))
        except ValueError:  # an existing cluster was found and options were refused
            ray.init()
        return ray, True
    try:
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise RayUnavailableError(
            f"--ray {address}",
            f"cannot connect to a Ray cluster there ({type(err).__name__}: {first}); start one "
            "with `ray start --head` on the head machine, or use --ray auto for a local one",
        ) from None
    return ray, True


def check_nodes(ray: Any, level: str) -> list[str]:
    """Probe every alive node for ``level``; refuse naming the first that lacks a layer."""
    strategies = importlib.import_module("ray.util.scheduling_strategies")
    affinity = strategies.NodeAffinitySchedulingStrategy
    probe = ray.remote(num_cpus=0)(_node_check)
    refs = [
        probe.options(scheduling_strategy=affinity(node["NodeID"], soft=False)).remote(level)
        for node in ray.nodes()
        if node.get("Alive")
    ]
    hosts = []
    for host, missing in ray.get(refs):
        if missing:
            raise NodeIsolationError(host, level, missing)
        hosts.append(host)
    return hosts
