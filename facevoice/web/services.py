"""The objects one app works with, reachable from any view."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from facevoice.accounts import Accounts
from facevoice.config import Settings
from facevoice.storage.attempts import AttemptStore
from facevoice.storage.challenges import ChallengeStore
from facevoice.storage.database import Database

EXTENSION = "facevoice"


@dataclass(frozen=True)
class Services:
    """Settings, database, pending attempts, challenges and account operations of one app."""

    settings: Settings
    database: Database
    attempts: AttemptStore
    challenges: ChallengeStore
    accounts: Accounts


def services() -> Services:
    """The services of the current app."""
    return current_app.extensions[EXTENSION]
