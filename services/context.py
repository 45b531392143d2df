"""Who acts and on which workspace: the two values every action of `services.actions` takes.

Convention (docs/DESIGN.md "Services"): an action function's first two
parameters are ``ws: Workspace`` and ``actor: Actor``, and its first line is
``authorize(ws, actor, Action.X, action_id=action_id)``. That call is the one
place the role check lives (SPEC §14): it asks ``billing.roles.decide``, and
a refusal is recorded as an audit event in the workspace's store before
NotAllowed is raised — so hiding a button is never the only guard, and a
forged session state or a replayed widget event is refused and leaves a trace.

``Actor`` is ``billing.roles.Actor`` (name, how they signed in, role);
``services.auth`` makes one from the app's sign-in facts or the CLI's
environment.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from billing.roles import Action, Actor, Decision, Mode, decide
from connectors.store import Store

__all__ = ["Actor", "Mode", "Workspace", "NotAllowed", "authorize", "SIGNED_IN_BY"]

SIGNED_IN_BY = tuple(m.value for m in Mode)


class NotAllowed(PermissionError):
    """The actor may not do this; ``str()`` is the sentence to show them (``decision`` says more)."""

    def __init__(self, decision: Decision):
        super().__init__(decision.message)
        self.decision = decision


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


def authorize(ws: Workspace, actor: Actor, permission: Action | str, *, action_id: str | None = None,
              detail: Mapping[str, Any] | None = None) -> None:
    """Return if `actor` may take `permission` (an ``Action`` or its value, e.g. "open_dispute");
    otherwise record the refusal in `ws`'s store (audit entity "permission": who, what, why,
    `detail`) and raise NotAllowed.

    `action_id` is the id the caller was given for the action: a replay of the same refused
    request is recorded once.
    """
    if not isinstance(actor, Actor):
        raise TypeError(f"{permission}: who is acting must be an Actor, not {type(actor).__name__}")
    decision = decide(actor, permission)
    if decision.allowed:
        return
    ws.store.record_refusal(actor=actor.name, action=str(decision.action), reason=decision.message,
                            attempted_action_id=action_id,
                            detail={"role": str(actor.role) if actor.role else None, "how": str(actor.how),
                                    **dict(detail or {})})
    raise NotAllowed(decision)
