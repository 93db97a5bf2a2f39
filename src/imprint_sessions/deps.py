"""FastAPI dependency aliases shared by every surface (``Svc``: the process's services)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from imprint_sessions.services import Services


# Every dependency is ``async def``: FastAPI runs a plain ``def`` dependency in a thread pool,
# which cost a third of create-session's throughput (BENCHMARKS.md).
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


Svc = Annotated[Services, Depends(get_services)]
