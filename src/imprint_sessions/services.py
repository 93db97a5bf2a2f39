"""The per-process object graph every surface reads: settings, database, keys, clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from imprint_sessions.clock import Clock
from imprint_sessions.config import Settings
from imprint_sessions.domain.api_keys import ApiKeyAuthenticator
from imprint_sessions.secrets import SecretBox
from imprint_sessions.storage.db import Database


@dataclass
class Services:
    settings: Settings
    database: Database
    box: SecretBox
    clock: Clock
    authenticator: ApiKeyAuthenticator = field(init=False)

    def __post_init__(self) -> None:
        self.authenticator = ApiKeyAuthenticator(self.box)
