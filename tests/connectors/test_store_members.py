"""Workspace members and refusals in the action store (SPEC §14), on SQLite and PostgreSQL."""
from __future__ import annotations

import json
import uuid

import pytest

from billing.roles import Role, RolesError, role_of, rules_from_members, rules_from_secrets
from tests.connectors.test_store import any_store, db_url, store  # noqa: F401  (fixtures)

FIXED = rules_from_secrets({"admin": ["root@example.com"]})


def aid() -> str:
    return uuid.uuid4().hex


def test_members_are_added_changed_and_removed_with_an_audit_event_each(any_store):
    any_store.set_member("Bob@Example.com", "viewer", action_id=aid(), actor="root@example.com")
    changed = any_store.set_member("bob@example.com", "finance", action_id=aid(), actor="root@example.com")
    assert changed == {"pattern": "bob@example.com", "role": "finance", "change": "update"}
    any_store.set_member("@team.example.com", "viewer", action_id=aid(), actor="root@example.com")
    members = any_store.members()
    assert members[["pattern", "role"]].values.tolist() == [["@team.example.com", "viewer"],
                                                            ["bob@example.com", "finance"]]
    assert members["created_by"].tolist() == ["root@example.com"] * 2
    any_store.remove_member("bob@example.com", action_id=aid(), actor="root@example.com", fixed_rules=FIXED)
    events = any_store.audit_events(entity="member")
    assert events[["entity_id", "action"]].values.tolist() == [
        ["bob@example.com", "create"], ["bob@example.com", "update"], ["@team.example.com", "create"],
        ["bob@example.com", "remove"]]
    assert json.loads(events["before_json"].iloc[1]) == {"role": "viewer"}
    assert set(events["actor"]) == {"root@example.com"}
    assert any_store.members()["pattern"].tolist() == ["@team.example.com"]


def test_setting_the_same_role_again_changes_nothing(store):
    store.set_member("bob@example.com", "finance", action_id=aid(), actor="a@x.test")
    again = store.set_member("bob@example.com", "finance", action_id=aid(), actor="a@x.test")
    assert again["change"] == "unchanged"
    assert len(store.audit_events(entity="member")) == 1


def test_replaying_a_member_change_applies_it_once(store):
    action = aid()
    for _ in range(3):
        store.set_member("bob@example.com", "finance", action_id=action, actor="a@x.test")
    assert len(store.audit_events(entity="member")) == 1


def test_the_last_admin_cannot_be_removed_or_demoted_and_nothing_changes(any_store):
    any_store.set_member("ana@example.com", "admin", action_id=aid(), actor="ana@example.com")
    with pytest.raises(RolesError, match="last admin"):
        any_store.remove_member("ana@example.com", action_id=aid(), actor="ana@example.com")
    with pytest.raises(RolesError, match="last admin"):
        any_store.set_member("ana@example.com", "viewer", action_id=aid(), actor="ana@example.com")
    assert any_store.members()["role"].tolist() == ["admin"]
    # with an admin fixed in the secrets she may step down
    any_store.set_member("ana@example.com", "viewer", action_id=aid(), actor="ana@example.com",
                         fixed_rules=FIXED)
    rules = FIXED + rules_from_members(any_store.members())
    assert role_of("ana@example.com", rules) is Role.VIEWER


def test_a_member_from_the_secrets_is_not_removable_here(store):
    with pytest.raises(RolesError, match=r"comes from \[roles\] in the secrets"):
        store.remove_member("root@example.com", action_id=aid(), actor="x@x.test", fixed_rules=FIXED)
    with pytest.raises(RolesError, match="not a member"):
        store.remove_member("nobody@example.com", action_id=aid(), actor="x@x.test", fixed_rules=FIXED)


@pytest.mark.parametrize("pattern, role", [("not an address", "viewer"), ("a@x.test", "owner")])
def test_bad_patterns_and_roles_are_refused_before_anything_is_written(store, pattern, role):
    with pytest.raises(RolesError):
        store.set_member(pattern, role, action_id=aid(), actor="a@x.test")
    assert store.members().empty and store.actions().empty


def test_a_refusal_is_an_audit_event_recorded_once_per_attempted_action(any_store):
    for _ in range(2):  # the same forged widget event sent twice
        any_store.record_refusal(actor="val@example.com", action="reminder.send", reason="needs finance",
                                 attempted_action_id="abc123", detail={"customers": ["C1"]})
    any_store.record_refusal(actor="val@example.com", action="dispute.create", reason="needs finance")
    events = any_store.audit_events(entity="permission")
    assert events[["actor", "entity_id", "action"]].values.tolist() == [
        ["val@example.com", "reminder.send", "refused"], ["val@example.com", "dispute.create", "refused"]]
    first = json.loads(events["after_json"].iloc[0])
    assert first == {"action": "reminder.send", "attempted_action_id": "abc123", "reason": "needs finance",
                     "detail": {"customers": ["C1"]}}
