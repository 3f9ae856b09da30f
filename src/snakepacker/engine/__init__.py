"""The container engine snakepacker builds and runs images with: docker or podman.

``find_engine(name)`` takes the value of ``--engine`` / SNAKEPACKER_ENGINE: ``docker``,
``podman``, or nothing (``auto``) for docker when its daemon answers, else podman. A
user who configured docker explicitly (SNAKEPACKER_DOCKER or DOCKER_HOST) gets docker's
own error in auto mode rather than a silent switch to podman.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from snakepacker.engine.base import Engine, ImageFacts, Progress, Secret, Timeouts
from snakepacker.errors import EngineError, UsageError

ENGINES = ("docker", "podman")
AUTO = "auto"

__all__ = ["AUTO", "ENGINES", "Engine", "ImageFacts", "Progress", "Secret", "Timeouts",
           "find_engine"]


def find_engine(name: str | None = None, env: Mapping[str, str] = os.environ) -> Engine:
    """The engine NAME (docker, podman, auto); None reads SNAKEPACKER_ENGINE, then auto."""
    from snakepacker.engine.docker import find_docker
    from snakepacker.engine.podman import find_podman

    chosen = (name or env.get("SNAKEPACKER_ENGINE") or AUTO).strip().lower()
    if chosen == "docker":
        return find_docker(env)
    if chosen == "podman":
        return find_podman(env)
    if chosen != AUTO:
        raise UsageError(f"unknown engine {chosen!r}: choose docker, podman or auto")
    if env.get("SNAKEPACKER_DOCKER") or env.get("DOCKER_HOST"):
        return find_docker(env)
    try:
        return find_docker(env)
    except EngineError as docker_problem:
        try:
            return find_podman(env)
        except EngineError:
            raise docker_problem from None
