"""FastAPI dependencies that hand routes the running services."""

from __future__ import annotations

from fastapi import Request

from tracegraph.runtime import Services


def get_services(request: Request) -> Services:
    return request.app.state.services
