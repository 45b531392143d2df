"""Roles and the permission rule (SPEC §14): pure functions, no Streamlit, no store."""
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.roles import (ACTION_LABELS, PERMISSIONS, Action, Actor, MemberRule, Mode, Role, RolesError,
                           access_mode, admin_contacts, decide, is_loopback, may, normalise_address,
                           normalise_pattern, role_of, rules_from_members, rules_from_secrets,
                           validate_member_change)

SECRETS = {"admin": ["Ana@Example.com"], "finance": ["@finance.example.com"], "viewer": "@example.com"}

FINANCE_ACTIONS = {Action.IMPORT, Action.MAPPING, Action.DISPUTE_CREATE, Action.DISPUTE_TRANSITION,
                   Action.DISPUTE_NOTE, Action.REMINDER_SEND, Action.REMINDER_RETRY, Action.REMINDER_RESOLVE,
                   Action.PROMISE, Action.ADJUSTMENT, Action.NEXT_ACTION, Action.WRITEBACK,
                   Action.BANK_IMPORT, Action.BANK_CONFIRM}
ADMIN_ACTIONS = {Action.SETTINGS, Action.MEMBERS, Action.RETENTION}


def test_every_action_has_a_required_role_and_a_label():
    assert set(PERMISSIONS) == set(Action) == set(ACTION_LABELS)


def test_finance_work_needs_finance_and_members_settings_retention_need_admin():
    assert {a for a, r in PERMISSIONS.items() if r is Role.FINANCE} == FINANCE_ACTIONS
    assert {a for a, r in PERMISSIONS.items() if r is Role.ADMIN} == ADMIN_ACTIONS
    assert not any(r is Role.VIEWER for r in PERMISSIONS.values())  # viewers only read


@given(st.sampled_from(list(Role)), st.sampled_from(list(Role)), st.sampled_from(list(Action)))
def test_each_role_has_everything_of_the_one_before(lower, higher, action):
    if lower <= higher and may(lower, action):
        assert may(higher, action)


def test_nobody_without_a_role_may_do_anything():
    assert not any(may(None, a) for a in Action)


def test_secrets_roles_accept_addresses_domains_and_a_single_string():
    rules = rules_from_secrets(SECRETS)
    assert MemberRule("ana@example.com", Role.ADMIN, "secrets") in rules
    assert MemberRule("@finance.example.com", Role.FINANCE, "secrets") in rules
    assert MemberRule("@example.com", Role.VIEWER, "secrets") in rules


@pytest.mark.parametrize("section, needle", [
    ({"auditor": ["a@example.com"]}, "unknown role 'auditor'"),
    ({"finance": ["not an address"]}, "neither an e-mail address"),
    ({"finance": ["@"]}, "neither an e-mail address"),
    ({"finance": 5}, "must be a list"),
])
def test_a_typo_in_the_roles_section_is_named(section, needle):
    with pytest.raises(RolesError, match=needle):
        rules_from_secrets(section)


def test_the_highest_matching_rule_wins_and_domains_match_exactly():
    rules = rules_from_secrets(SECRETS)
    assert role_of("ANA@example.com", rules) is Role.ADMIN  # address rule beats the @example.com viewer rule
    assert role_of("bob@finance.example.com", rules) is Role.FINANCE
    assert role_of("carol@example.com", rules) is Role.VIEWER
    assert role_of("eve@sub.finance.example.com", rules) is None  # a subdomain is another domain
    assert role_of("eve@example.com.evil.test", rules) is None
    assert role_of("", rules) is None and role_of(None, rules) is None


def test_a_workspace_member_can_be_raised_above_the_secrets_but_not_lowered():
    members = pd.DataFrame({"pattern": ["carol@example.com", "bob@finance.example.com"],
                            "role": ["finance", "viewer"]})
    rules = rules_from_secrets(SECRETS) + rules_from_members(members)
    assert role_of("carol@example.com", rules) is Role.FINANCE
    assert role_of("bob@finance.example.com", rules) is Role.FINANCE


def test_addresses_and_patterns_are_normalised_or_refused():
    assert normalise_address("  Ana@Example.COM ") == "ana@example.com"
    assert normalise_address("ana") is None and normalise_address(None) is None
    assert normalise_pattern(" @Example.com") == "@example.com"
    with pytest.raises(RolesError):
        normalise_pattern("ana example.com")


def test_admin_contacts_are_the_admin_addresses():
    rules = rules_from_secrets({"admin": ["b@x.test", "a@x.test", "@x.test"], "finance": ["c@x.test"]})
    assert admin_contacts(rules) == ["a@x.test", "b@x.test"]


def test_the_last_admin_cannot_be_removed_or_demoted():
    members = pd.DataFrame({"pattern": ["a@x.test", "b@x.test"], "role": ["admin", "viewer"]})
    rules = rules_from_members(members)
    with pytest.raises(RolesError, match="last admin"):
        validate_member_change(rules, "a@x.test", None)
    with pytest.raises(RolesError, match="last admin"):
        validate_member_change(rules, "a@x.test", Role.FINANCE)
    validate_member_change(rules, "b@x.test", None)  # someone else: fine
    validate_member_change(rules + rules_from_secrets({"admin": ["s@x.test"]}), "a@x.test", None)


def test_a_viewer_is_refused_with_the_role_it_needs():
    d = decide(Actor("val@example.com", Mode.SIGN_IN, Role.VIEWER), Action.REMINDER_SEND)
    assert not d.allowed and d.required is Role.FINANCE
    assert d.message == ("Sending reminders needs the finance role; val@example.com is viewer. "
                         "Ask an admin if you need it.")


def test_finance_is_refused_member_changes_and_admin_may():
    assert not decide(Actor("f@x.test", Mode.SIGN_IN, Role.FINANCE), Action.MEMBERS).allowed
    assert decide(Actor("a@x.test", Mode.SIGN_IN, Role.ADMIN), Action.MEMBERS).allowed


def test_a_non_member_is_told_whom_to_ask():
    d = decide(Actor("x@else.test", Mode.SIGN_IN, contacts=("ana@example.com",)), Action.IMPORT)
    assert "not a member" in d.message and "ana@example.com" in d.message


def test_an_unconfigured_server_refuses_and_says_sign_in_must_be_configured():
    d = decide(Actor("anonymous", Mode.UNCONFIGURED, address="0.0.0.0"), Action.DISPUTE_CREATE)
    assert not d.allowed
    assert "listens on 0.0.0.0 without sign-in" in d.message and "[auth]" in d.message


@pytest.mark.parametrize("address, loopback", [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True), ("127.0.1.1", True),
    ("0.0.0.0", False), ("", False), (None, False), ("::", False), ("192.168.1.10", False),
    ("myhost.example.com", False),
])
def test_only_loopback_addresses_count_as_local(address, loopback):
    assert is_loopback(address) is loopback


def test_the_mode_follows_auth_and_the_bound_address():
    assert access_mode(True, "0.0.0.0") is Mode.SIGN_IN
    assert access_mode(True, "127.0.0.1") is Mode.SIGN_IN
    assert access_mode(False, "127.0.0.1") is Mode.LOCAL
    assert access_mode(False, "0.0.0.0") is Mode.UNCONFIGURED
    assert access_mode(False, None) is Mode.UNCONFIGURED


def test_local_cli_and_system_actors_are_admin_and_sign_in_ones_only_what_they_are_given():
    assert Actor("me").role is Role.ADMIN and Actor("cron", "cli").role is Role.ADMIN
    assert Actor("job", Mode.SYSTEM).role is Role.ADMIN
    assert Actor("x@x.test", Mode.SIGN_IN).role is None
    assert Actor("x@x.test", "sign_in", "finance").role is Role.FINANCE
    assert Actor("anonymous", Mode.UNCONFIGURED).role is None


def test_an_actor_needs_a_name_and_a_known_sign_in_kind():
    with pytest.raises(ValueError, match="needs a name"):
        Actor("  ")
    with pytest.raises(ValueError, match="unknown sign-in kind"):
        Actor("ann", "typed_name")
    assert Actor("  ann ").name == "ann"
