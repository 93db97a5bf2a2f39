"""Path and query parameters shared by the partner API's lists and retrieves, with their limits.

Violations are 400s in the seed's ``InvalidRequestError`` (``app.py`` renders FastAPI's parameter
errors with ``validation.error_details``), e.g. ``limit: must be less than or equal to 100``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from imprint_sessions.validation import IDENTIFIER_MAX_LENGTH, LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX

__all__ = ["CustomerIdPath", "Limit", "PaymentMethodIdPath", "SessionIdPath", "StartingAfter"]

CustomerIdPath = Annotated[
    str,
    Path(
        max_length=IDENTIFIER_MAX_LENGTH,
        description="The customer's id (one of yours)",
        examples=["AD87A18A-A4BE-49FF-BC46-BF6F0779DBAA"],
    ),
]
PaymentMethodIdPath = Annotated[
    str,
    Path(
        max_length=IDENTIFIER_MAX_LENGTH,
        description="The payment method's id (one of your customers')",
        examples=["5B1D2F3E-8A7C-4E6D-9F0A-1B2C3D4E5F60"],
    ),
]
SessionIdPath = Annotated[
    str,
    Path(
        max_length=IDENTIFIER_MAX_LENGTH,
        description="The customer session's id (one of yours)",
        examples=["2EE24580-B97B-4949-A65C-929CCB9B9B8D"],
    ),
]
Limit = Annotated[
    int,
    Query(ge=1, le=LIST_LIMIT_MAX, description=f"Objects per page, 1 to {LIST_LIMIT_MAX}"),
]
StartingAfter = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=IDENTIFIER_MAX_LENGTH,
        description="The last id of the previous page: the page after it (oldest first)",
    ),
]
DEFAULT_LIMIT = LIST_LIMIT_DEFAULT
