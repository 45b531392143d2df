"""Who acts and on which workspace: the two values every action of `services.actions` takes.

Convention (docs/DESIGN.md "Services"): an action function's first two
parameters are ``ws: Workspace`` and ``actor: Actor``, and its first line is
``authorize(actor, "<permission>")``. That call is the one place the role
check lives (SPEC §14): today it checks that the actor is named; sign-in adds
the roles.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from connectors.store import Store

SIGNED_IN_BY = ("typed_name", "cli", "sign_in", "system")


class NotAllowed(PermissionError):
    """The actor may not do this (message meant for the user)."""


@dataclass(frozen=True)
class Actor:
    """Someone doing something: `name` is recorded on every change; `how` says how we know them
    ("typed_name": the sidebar's name field, "cli": the command line user, "sign_in", "system")."""

    name: str
    how: str = "typed_name"
    roles: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("an actor needs a name")
        if self.how not in SIGNED_IN_BY:
            raise ValueError(f"unknown sign-in kind {self.how!r}; one of {', '.join(SIGNED_IN_BY)}")
        object.__setattr__(self, "name", self.name.strip())


@dataclass(frozen=True)
class Workspace:
    """The store a team shares, or (``sandbox=True``) the demo's throwaway store.

    Nothing is sent from a sandbox (reminders go to the preview outbox), and
    its disputes and reminder log never reach the team's store.
    """

    store: Store
    sandbox: bool = False

    @property
    def label(self) -> str:
        return "demo sandbox" if self.sandbox else self.store.display_url


def authorize(actor: Actor, permission: str) -> None:
    """Raise NotAllowed unless `actor` may `permission` (e.g. "import", "open_dispute", "send_reminders").

    The single place the role check goes (the roles of SPEC §14 plug in here).
    """
    if not isinstance(actor, Actor):
        raise NotAllowed(f"{permission}: who is acting is not known")
