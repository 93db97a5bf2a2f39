"""FastAPI dependency aliases shared by every surface (``Svc``: the process's services)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from imprint_sessions.services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


Svc = Annotated[Services, Depends(get_services)]
