"""Who may do what: the roles of SPEC §14 and the one rule that says whether someone may act.

Roles are ordered, each with everything of the one before::

    viewer  < finance                                   < admin
    (read)    imports, disputes, reminders, promises,     members, settings,
              adjustments, code write-back                retention

Members are rules ``(pattern, role)``: a pattern is an e-mail address
(``ana@example.com``) or a whole domain (``@finance.example.com``: every
address at exactly that domain, not its subdomains). They come from the
``[roles]`` section of the secrets (fixed by whoever deploys the server) and
from the workspace (added on the Admin page). A person's role is the highest
role of every rule that matches their address, so a workspace entry can
raise someone above what the secrets give but never lower them: to take a
role away that the secrets give, change the secrets.

How the server is reached decides the mode (``access_mode``): with sign-in
configured people act under their signed-in address; without it a server
that listens only on the loopback interface is a single person's **local
mode** (that person is admin), and one that listens on any other address
refuses every action until sign-in is configured.

Everything here is pure: the service layer gathers the signed-in identity,
the secrets and the members into an ``Actor`` (``services.auth``), and every
action asks ``decide`` through ``services.context.authorize``.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Any

import pandas as pd

__all__ = [
    "Role", "Action", "Mode", "PERMISSIONS", "ACTION_LABELS", "ROLE_NAMES", "MemberRule", "Actor",
    "Decision", "RolesError", "parse_role", "normalise_pattern", "normalise_address", "rules_from_secrets",
    "rules_from_members", "role_of", "admin_contacts", "required_role", "may", "decide", "access_mode",
    "is_loopback", "validate_member_change", "MEMBER_COLUMNS",
]


class RolesError(ValueError):
    """A roles configuration or a member change that cannot be accepted (the message says why)."""


class Role(IntEnum):
    """A member's role; comparisons follow the order (``Role.ADMIN >= Role.FINANCE``)."""

    VIEWER = 1
    FINANCE = 2
    ADMIN = 3

    def __str__(self) -> str:
        return self.name.lower()


ROLE_NAMES: tuple[str, ...] = tuple(str(r) for r in Role)  # ("viewer", "finance", "admin")


class Action(StrEnum):
    """Every action a person can take; reading (dashboards, drill-downs, downloads) is not one.
    The values are the permission names the service functions pass to ``services.context.authorize``."""

    IMPORT = "import"                            # upload, Google Sheet refresh, `cli.py import`
    MAPPING = "save_mapping"                     # remember a column mapping for a source layout
    DISPUTE_CREATE = "open_dispute"
    DISPUTE_TRANSITION = "transition_dispute"
    DISPUTE_NOTE = "add_dispute_note"
    REMINDER_SEND = "send_reminders"
    REMINDER_RETRY = "retry_reminders"           # send again what failed
    REMINDER_RESOLVE = "resolve_reminders"       # settle an unconfirmed reminder as sent or failed
    PROMISE = "record_promise"                   # promise to pay (SPEC §15)
    ADJUSTMENT = "make_adjustment"               # write-off, manual application, credit note request
    NEXT_ACTION = "set_next_action"              # a customer's next action date and collector (SPEC §15)
    WRITEBACK = "write_back"                     # write line codes / statuses into the source sheet
    BANK_IMPORT = "import_bank_statement"        # bank statements in as payments (SPEC §17)
    BANK_CONFIRM = "confirm_bank_match"          # confirm / choose / leave a bank payment of the review queue
    SETTINGS = "change_settings"                 # company details, policies
    MEMBERS = "change_members"                   # add, remove members, change roles
    RETENTION = "prune_imports"                  # prune old imports


# The permission table: the least role each action needs. One entry per Action (checked on import).
PERMISSIONS: Mapping[Action, Role] = MappingProxyType({
    Action.IMPORT: Role.FINANCE,
    Action.MAPPING: Role.FINANCE,
    Action.DISPUTE_CREATE: Role.FINANCE,
    Action.DISPUTE_TRANSITION: Role.FINANCE,
    Action.DISPUTE_NOTE: Role.FINANCE,
    Action.REMINDER_SEND: Role.FINANCE,
    Action.REMINDER_RETRY: Role.FINANCE,
    Action.REMINDER_RESOLVE: Role.FINANCE,
    Action.PROMISE: Role.FINANCE,
    Action.ADJUSTMENT: Role.FINANCE,
    Action.NEXT_ACTION: Role.FINANCE,
    Action.WRITEBACK: Role.FINANCE,
    Action.BANK_IMPORT: Role.FINANCE,
    Action.BANK_CONFIRM: Role.FINANCE,
    Action.SETTINGS: Role.ADMIN,
    Action.MEMBERS: Role.ADMIN,
    Action.RETENTION: Role.ADMIN,
})

# What each action is called in a refusal ("Sending reminders needs the finance role ...").
ACTION_LABELS: Mapping[Action, str] = MappingProxyType({
    Action.IMPORT: "Importing data",
    Action.MAPPING: "Saving a column mapping",
    Action.DISPUTE_CREATE: "Opening a dispute",
    Action.DISPUTE_TRANSITION: "Moving a dispute",
    Action.DISPUTE_NOTE: "Adding a note to a dispute",
    Action.REMINDER_SEND: "Sending reminders",
    Action.REMINDER_RETRY: "Retrying failed reminders",
    Action.REMINDER_RESOLVE: "Settling unconfirmed reminders",
    Action.PROMISE: "Recording a promise to pay",
    Action.ADJUSTMENT: "Making an adjustment",
    Action.NEXT_ACTION: "Setting a customer's next action",
    Action.WRITEBACK: "Writing codes back into the sheet",
    Action.BANK_IMPORT: "Importing bank statements",
    Action.BANK_CONFIRM: "Confirming bank payments",
    Action.SETTINGS: "Changing settings",
    Action.MEMBERS: "Changing members and roles",
    Action.RETENTION: "Pruning old imports",
})


class Mode(StrEnum):
    """How the acting person was identified."""

    SIGN_IN = "sign_in"            # Streamlit sign-in (OIDC): the signed-in address
    LOCAL = "local"                # no [auth], server on loopback only: the local user, admin
    UNCONFIGURED = "unconfigured"  # no [auth], server reachable from other machines: no actions
    CLI = "cli"                    # the command line: LINEWISE_ACTOR or cli:<os user>, admin
    SYSTEM = "system"              # Linewise itself (maintenance jobs), admin


# Modes whose actor is admin by definition: one person at this computer, or shell access to the server.
_ADMIN_BY_MODE = frozenset({Mode.LOCAL, Mode.CLI, Mode.SYSTEM})


# --------------------------------------------------------------------------- member rules

_ADDRESS = re.compile(r"^[^@\s]+@[^@\s.][^@\s]*$")
_DOMAIN = re.compile(r"^@[^@\s.][^@\s]*$")
MEMBER_COLUMNS = ("pattern", "role")


@dataclass(frozen=True)
class MemberRule:
    """One membership entry: `pattern` (a lower-case address or ``@domain``) gets `role`.
    `source` is ``"secrets"`` (fixed, ``[roles]``) or ``"workspace"`` (the Admin page)."""

    pattern: str
    role: Role
    source: str

    @property
    def is_domain(self) -> bool:
        return self.pattern.startswith("@")

    def matches(self, address: str) -> bool:
        """Does the (normalised) `address` fall under this rule?"""
        if self.is_domain:
            return address.rpartition("@")[2] == self.pattern[1:]
        return address == self.pattern


def parse_role(value: Any) -> Role:
    """``"finance"`` (any case) or a Role -> Role; anything else is a RolesError naming the roles."""
    if isinstance(value, Role):
        return value
    text = str(value).strip().lower() if value is not None else ""
    if text not in ROLE_NAMES:
        raise RolesError(f"unknown role {value!r}: use one of {', '.join(ROLE_NAMES)}")
    return Role[text.upper()]


def normalise_address(value: Any) -> str | None:
    """A signed-in e-mail address in the form rules compare (trimmed, lower case), or None if it
    is not an address (no `@`, spaces, empty)."""
    text = str(value).strip().lower() if isinstance(value, str) else ""
    return text if _ADDRESS.match(text) else None


def normalise_pattern(value: Any) -> str:
    """A member pattern as stored: an address or ``@domain``, lower case; RolesError otherwise."""
    text = str(value).strip().lower() if isinstance(value, str) else ""
    if _DOMAIN.match(text) or _ADDRESS.match(text):
        return text
    raise RolesError(f"{value!r} is neither an e-mail address (ana@example.com) "
                     "nor a domain (@example.com)")


def rules_from_secrets(section: Mapping[str, Any] | None) -> tuple[MemberRule, ...]:
    """The ``[roles]`` section of the secrets (``admin = ["ana@example.com"]``,
    ``finance = ["@finance.example.com"]``, ``viewer = [...]``) as rules.

    A single string is taken as a one-element list. An unknown role name or a
    pattern that is neither an address nor ``@domain`` is a RolesError that
    names it, so a typo in the secrets is reported instead of locking someone out.
    """
    if not section:
        return ()
    rules: list[MemberRule] = []
    for name, patterns in dict(section).items():
        role = parse_role(name)
        if isinstance(patterns, str):
            patterns = [patterns]
        if not isinstance(patterns, (list, tuple)):
            raise RolesError(f"[roles] {name} must be a list of addresses or @domains")
        rules.extend(MemberRule(normalise_pattern(p), role, "secrets") for p in patterns)
    return tuple(rules)


def rules_from_members(members: pd.DataFrame | None) -> tuple[MemberRule, ...]:
    """The workspace's members (a frame with columns pattern, role) as rules."""
    if members is None or members.empty:
        return ()
    return tuple(MemberRule(str(p), parse_role(r), "workspace")
                 for p, r in zip(members["pattern"], members["role"]))


def role_of(address: str | None, rules: Iterable[MemberRule]) -> Role | None:
    """The highest role of every rule matching `address`; None when no rule matches (no member)."""
    address = normalise_address(address)
    if address is None:
        return None
    roles = [r.role for r in rules if r.matches(address)]
    return max(roles) if roles else None


def admin_contacts(rules: Iterable[MemberRule]) -> list[str]:
    """The admins' addresses (sorted, no domains): whom a person without access should ask."""
    return sorted({r.pattern for r in rules if r.role is Role.ADMIN and not r.is_domain})


def validate_member_change(rules: Iterable[MemberRule], pattern: str, role: Role | None) -> None:
    """Refuse (RolesError) a change of the workspace entry `pattern` to `role` (None: removal)
    that would leave the workspace with no admin address at all, in the secrets or the workspace.

    `rules` are all rules before the change (secrets and workspace).
    """
    after = [r for r in rules if not (r.source == "workspace" and r.pattern == pattern)]
    if role is not None:
        after.append(MemberRule(pattern, role, "workspace"))
    had_admin = any(r.role is Role.ADMIN and not r.is_domain for r in rules)
    if had_admin and not any(r.role is Role.ADMIN and not r.is_domain for r in after):
        raise RolesError(f"{pattern} is the last admin: make someone else admin first "
                         "(or add one under [roles] in the secrets)")


# --------------------------------------------------------------------------- who acts, and may they

@dataclass(frozen=True)
class Actor:
    """Someone doing something, as every service function takes them.

    name     what every record and audit event carries: the signed-in address,
             the local user's name, or the CLI's actor;
    how      how they were identified (a Mode or its value);
    role     their role: None when they have none (no member, or actions are
             off); LOCAL, CLI and SYSTEM actors are admin when not given;
    address  the server's listening address (for the UNCONFIGURED refusal), else "";
    contacts admins to ask for access (shown to a signed-in non-member).
    """

    name: str
    how: Mode = Mode.LOCAL
    role: Role | None = None
    address: str = ""
    contacts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("an actor needs a name")
        object.__setattr__(self, "name", self.name.strip())
        try:
            object.__setattr__(self, "how", Mode(self.how))
        except ValueError:
            raise ValueError(f"unknown sign-in kind {self.how!r}; one of {', '.join(Mode)}") from None
        if self.role is None and self.how in _ADMIN_BY_MODE:
            object.__setattr__(self, "role", Role.ADMIN)
        elif self.role is not None:
            object.__setattr__(self, "role", parse_role(self.role))


@dataclass(frozen=True)
class Decision:
    """The answer of ``decide``: `allowed`, and when not, a plain sentence saying why."""

    allowed: bool
    action: Action
    required: Role
    message: str = ""


def required_role(action: Action | str) -> Role:
    return PERMISSIONS[Action(action)]


def may(role: Role | None, action: Action | str) -> bool:
    """May someone with `role` take `action`? (No role: no action.)"""
    return role is not None and role >= required_role(action)


def decide(actor: Actor, action: Action | str) -> Decision:
    """The one permission rule: whether `actor` may take `action`, and if not, why."""
    action = Action(action)
    need = PERMISSIONS[action]
    if may(actor.role, action):
        return Decision(True, action, need)
    label = ACTION_LABELS[action]
    if actor.how is Mode.UNCONFIGURED:
        where = actor.address or "all network interfaces"
        msg = (f"{label} is refused: this server listens on {where} without sign-in. Sign-in must be "
               "configured ([auth] in .streamlit/secrets.toml) before anyone can act; "
               "or run it locally on 127.0.0.1 (make run).")
    elif actor.role is None:
        ask = ", ".join(actor.contacts) or "an admin"
        msg = f"{label} is refused: {actor.name} is not a member of this workspace. Ask {ask}."
    else:
        msg = (f"{label} needs the {need} role; {actor.name} is {actor.role}. "
               "Ask an admin if you need it.")
    return Decision(False, action, need, msg)


def is_loopback(address: str | None) -> bool:
    """Is `address` (Streamlit's ``server.address``) reachable from this machine only?

    Empty/None means every interface (Streamlit's default), so not loopback;
    ``localhost`` and every 127.x.x.x / ::1 address are.
    """
    text = (address or "").strip().strip("[]").lower()
    if not text:
        return False
    if text == "localhost":
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:  # a host name other than localhost: it may resolve to anything
        return False


def access_mode(auth_configured: bool, bound_address: str | None) -> Mode:
    """SIGN_IN with ``[auth]``; without it LOCAL on a loopback address, else UNCONFIGURED."""
    if auth_configured:
        return Mode.SIGN_IN
    return Mode.LOCAL if is_loopback(bound_address) else Mode.UNCONFIGURED
