"""Per-document access (cowrite.accounts.sharing): every escalation an attacker would try."""

from __future__ import annotations

import logging
import random
import tempfile
import threading
from pathlib import Path

import pytest
from accounts_helpers import CHEAP, PASSWORD, SQL_INJECTIONS, Clock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cowrite.accounts import (
    DOC_ROLES,
    ChangedMeanwhile,
    LINK_ROLES,
    AccessDenied,
    AccountError,
    AccountNotFound,
    Accounts,
    DocInvite,
    InvalidAccount,
    InviteNotFound,
    InviteRefused,
    LinkInfo,
    Member,
    NotAMember,
    Passwords,
    Sharing,
    Throttle,
    at_least,
    secret_key,
    stronger,
    weaker,
)
from cowrite.store import DocumentNotFound, InvalidDocumentId, SQLiteStore

PEOPLE = ["olga", "ed", "cora", "vic", "stranger", "boss"]


class Events:
    def __init__(self, sharing: Sharing) -> None:
        self.calls: list[tuple[str, str, str | None]] = []
        sharing.on_change(lambda doc, user, role: self.calls.append((doc, user, role)))

    def take(self) -> list[tuple[str, str, str | None]]:
        calls, self.calls = self.calls, []
        return calls


@pytest.fixture
def sharing(store: SQLiteStore, accounts: Accounts, clock: Clock) -> Sharing:
    for name in PEOPLE:
        accounts.sign_up(name, PASSWORD, name.title(), admin=name == "boss")
    return Sharing(store, accounts, clock=clock)


@pytest.fixture
def doc(sharing: Sharing, store: SQLiteStore) -> str:
    """``notes``: olga owns it, ed edits, cora comments, vic views."""
    store.create("notes")
    sharing.create_owner("notes", "olga")
    for user, role in (("ed", "editor"), ("cora", "commenter"), ("vic", "viewer")):
        sharing.add_member("notes", "olga", user, role)
    return "notes"


@pytest.fixture
def events(sharing: Sharing) -> Events:
    return Events(sharing)


def roles(sharing: Sharing, doc: str) -> dict[str, str]:
    return {m.user: m.role for m in sharing.members(doc)}


def assert_one_owner(sharing: Sharing, doc: str) -> None:
    held = roles(sharing, doc)
    if held:
        assert sum(r == "owner" for r in held.values()) == 1, held


# -- roles --------------------------------------------------------------------------------


def test_role_order() -> None:
    assert DOC_ROLES == ("owner", "editor", "commenter", "viewer")
    assert LINK_ROLES == ("viewer", "commenter", "editor")
    assert stronger("viewer", "editor") == "editor" and stronger(None, "viewer") == "viewer"
    assert weaker("owner", "commenter") == "commenter" and weaker("editor", None) is None
    assert at_least("owner", "viewer") and at_least("commenter", "commenter") and not at_least("viewer", "editor")
    assert not at_least(None, "viewer")


@given(st.sampled_from([*DOC_ROLES, None]), st.sampled_from([*DOC_ROLES, None]))
def test_stronger_and_weaker_are_a_lattice(a: str | None, b: str | None) -> None:
    assert stronger(a, b) == stronger(b, a) in (a, b)
    assert weaker(a, b) == weaker(b, a) in (a, b)
    assert {stronger(a, b), weaker(a, b)} == {a, b}
    if a is not None and b is not None:
        assert at_least(stronger(a, b), a) and at_least(a, weaker(a, b))  # type: ignore[arg-type]
        assert at_least(a, b) == (stronger(a, b) == a)


# -- members ------------------------------------------------------------------------------


def test_the_creator_owns_and_members_are_listed_owner_first(sharing: Sharing, doc: str, clock: Clock) -> None:
    members = sharing.members(doc)
    assert members[0] == Member("olga", "Olga", "owner", "olga", clock.now)
    assert [(m.user, m.role) for m in members] == [
        ("olga", "owner"), ("ed", "editor"), ("cora", "commenter"), ("vic", "viewer"),
    ]
    assert all(m.added_by == "olga" for m in members)
    assert sharing.role_of(doc, "OLGA") == "owner"  # usernames are normalised
    assert sharing.role_of(doc, "stranger") is None
    assert sharing.role_of(doc, "not a username") is None  # a token's free-form user id
    assert sharing.role_of("elsewhere", "olga") is None
    assert sharing.owners() == {doc: "olga"}
    assert sharing.documents_of("ed") == [(doc, "editor")] and sharing.documents_of("stranger") == []


def test_create_owner_needs_an_account_an_existing_doc_and_no_members(sharing: Sharing, doc: str,
                                                                      store: SQLiteStore) -> None:
    with pytest.raises(AccessDenied, match="already has an owner"):
        sharing.create_owner(doc, "ed")  # a second owner, or a takeover
    store.create("fresh")
    with pytest.raises(AccountNotFound):
        sharing.create_owner("fresh", "ghost")
    with pytest.raises(DocumentNotFound):
        sharing.create_owner("missing", "olga")
    assert sharing.members("fresh") == [] and roles(sharing, doc)["olga"] == "owner"


def test_the_owner_adds_changes_and_removes(sharing: Sharing, doc: str, events: Events) -> None:
    added = sharing.add_member(doc, "olga", "Stranger", "viewer")
    assert (added.user, added.name, added.role, added.added_by) == ("stranger", "Stranger", "viewer", "olga")
    assert events.take() == [(doc, "stranger", "viewer")]
    assert sharing.set_role(doc, "olga", "stranger", "editor").role == "editor"
    assert events.take() == [(doc, "stranger", "editor")]
    assert sharing.set_role(doc, "olga", "stranger", "editor").role == "editor"  # no change: no event
    assert sharing.add_member(doc, "olga", "stranger", "commenter").role == "commenter"  # add = set for a member
    assert events.take() == [(doc, "stranger", "commenter")]
    sharing.remove_member(doc, "olga", "stranger")
    assert events.take() == [(doc, "stranger", None)]
    assert sharing.role_of(doc, "stranger") is None  # at once
    with pytest.raises(NotAMember):
        sharing.set_role(doc, "olga", "stranger", "viewer")
    with pytest.raises(NotAMember):
        sharing.remove_member(doc, "olga", "stranger")
    assert events.take() == []


def test_bad_members_and_roles_are_refused(sharing: Sharing, doc: str, events: Events) -> None:
    before = roles(sharing, doc)
    with pytest.raises(AccountNotFound):
        sharing.add_member(doc, "olga", "ghost", "viewer")  # only accounts are members
    for role in ("owner", "admin", "Editor", "", None, 3):
        with pytest.raises(InvalidAccount):
            sharing.add_member(doc, "olga", "stranger", role)  # type: ignore[arg-type]
        with pytest.raises(InvalidAccount):
            sharing.set_role(doc, "olga", "ed", role)  # type: ignore[arg-type]
    for name in ["bad name", "", "\u212aelvin", None, *SQL_INJECTIONS]:
        with pytest.raises(InvalidAccount):
            sharing.add_member(doc, "olga", name, "viewer")  # type: ignore[arg-type]
        assert sharing.role_of(doc, name) is None  # type: ignore[arg-type]
    for bad_doc in ["../notes", "a'; DROP TABLE members; --", "", "x" * 129]:
        with pytest.raises(InvalidDocumentId):
            sharing.add_member(bad_doc, "olga", "stranger", "viewer")
        with pytest.raises(InvalidDocumentId):
            sharing.role_of(bad_doc, "olga")
    assert roles(sharing, doc) == before and events.take() == []


# -- escalation -----------------------------------------------------------------------------


def _attempts(doc: str, actor: str, sharing: Sharing) -> list[tuple[str, object]]:
    return [
        ("add a member", lambda: sharing.add_member(doc, actor, "stranger", "editor")),
        ("add themself", lambda: sharing.add_member(doc, actor, actor, "editor")),
        ("probe for an account", lambda: sharing.add_member(doc, actor, "ghost", "viewer")),  # no AccountNotFound
        ("probe by a transfer", lambda: sharing.transfer(doc, actor, "ghost")),
        ("upgrade someone", lambda: sharing.set_role(doc, actor, "vic", "editor")),
        ("upgrade themself", lambda: sharing.set_role(doc, actor, actor, "editor")),
        ("downgrade the owner", lambda: sharing.set_role(doc, actor, "olga", "viewer")),
        ("remove someone", lambda: sharing.remove_member(doc, actor, "cora" if actor != "cora" else "vic")),
        ("remove the owner", lambda: sharing.remove_member(doc, actor, "olga")),
        ("take the ownership", lambda: sharing.transfer(doc, actor, actor)),
        ("give the ownership", lambda: sharing.transfer(doc, actor, "stranger")),
        ("turn the link on", lambda: sharing.set_link(doc, actor, "editor")),
        ("make an invite", lambda: sharing.create_invite(doc, actor, "editor")),
        ("list the invites", lambda: sharing.invites(doc, actor)),
    ]


@pytest.mark.parametrize("actor", ["ed", "cora", "vic", "stranger", "guest-0123"])
def test_only_the_owner_or_an_admin_changes_sharing(sharing: Sharing, doc: str, events: Events, actor: str) -> None:
    code = sharing.create_invite(doc, "olga", "viewer")
    before = roles(sharing, doc)
    for what, attempt in _attempts(doc, actor, sharing):
        with pytest.raises(AccessDenied, match="only the owner"):
            attempt()  # type: ignore[operator]
        assert roles(sharing, doc) == before, what
    with pytest.raises(AccessDenied):
        sharing.revoke_invite(doc, actor, code)
    assert sharing.link(doc).role is None and events.take() == []
    assert sharing.invites(doc, "olga")[0].status == "open"


def test_an_editor_cannot_make_themself_owner_in_any_way(sharing: Sharing, doc: str) -> None:
    for attempt in (
        lambda: sharing.set_role(doc, "ed", "ed", "owner"),
        lambda: sharing.add_member(doc, "ed", "ed", "owner"),
        lambda: sharing.set_role(doc, "olga", "ed", "owner"),  # not even the owner makes a second owner
        lambda: sharing.create_owner(doc, "ed"),
        lambda: sharing.transfer(doc, "ed", "ed"),
        lambda: sharing.create_invite(doc, "olga", "owner"),
    ):
        with pytest.raises((AccessDenied, InvalidAccount)):
            attempt()
    assert roles(sharing, doc)["ed"] == "editor" and sharing.owners() == {doc: "olga"}


def test_a_member_of_one_document_manages_no_other(sharing: Sharing, doc: str, store: SQLiteStore) -> None:
    store.create("other")
    sharing.create_owner("other", "ed")  # ed owns "other", edits "notes"
    sharing.add_member("other", "ed", "olga", "viewer")
    with pytest.raises(AccessDenied):
        sharing.add_member(doc, "ed", "stranger", "viewer")
    with pytest.raises(AccessDenied):
        sharing.set_role("other", "olga", "olga", "editor")  # olga owns notes, only views other
    with pytest.raises(AccessDenied):
        sharing.set_link("other", "olga", "editor")
    assert roles(sharing, "other") == {"ed": "owner", "olga": "viewer"}


def test_the_owner_cannot_be_removed_nor_leave_nor_be_demoted(sharing: Sharing, doc: str) -> None:
    for actor in ("olga", "boss"):
        with pytest.raises(AccessDenied, match="transfer"):
            sharing.remove_member(doc, actor, "olga")
        with pytest.raises(AccessDenied, match="transfer"):
            sharing.set_role(doc, actor, "olga", "editor")
    assert sharing.owners() == {doc: "olga"}


def test_a_member_may_leave(sharing: Sharing, doc: str, events: Events) -> None:
    sharing.remove_member(doc, "Vic", "vic")
    assert sharing.role_of(doc, "vic") is None and events.take() == [(doc, "vic", None)]
    with pytest.raises(NotAMember):
        sharing.remove_member(doc, "stranger", "stranger")


def test_admins_manage_any_document_disabled_accounts_none(sharing: Sharing, doc: str, accounts: Accounts) -> None:
    sharing.add_member(doc, "boss", "stranger", "viewer")
    sharing.set_role(doc, "boss", "stranger", "editor")
    sharing.remove_member(doc, "boss", "stranger")
    assert sharing.set_link(doc, "boss", "viewer").role == "viewer"
    accounts.disable("boss")
    with pytest.raises(AccessDenied):
        sharing.add_member(doc, "boss", "stranger", "viewer")
    accounts.disable("olga")  # a disabled owner manages nothing either
    with pytest.raises(AccessDenied):
        sharing.add_member(doc, "olga", "stranger", "viewer")
    with pytest.raises(AccessDenied):
        sharing.set_link(doc, "olga", None)
    assert not sharing.can_manage(doc, "olga") and not sharing.is_admin("boss")


def test_operators_are_admins_without_an_account(store: SQLiteStore, accounts: Accounts, clock: Clock) -> None:
    accounts.sign_up("ada", PASSWORD)
    store.create("doc")
    sharing = Sharing(store, accounts, clock=clock, operators={"admin"})
    assert sharing.is_admin("admin") and not sharing.is_admin("ada") and not sharing.is_admin("not a name")
    sharing.transfer("doc", "admin", "ada")  # an ownerless document gets an owner
    assert sharing.owners() == {"doc": "ada"}
    assert not Sharing(store, accounts, clock=clock).is_admin("admin")


# -- transfer -------------------------------------------------------------------------------


def test_transfer(sharing: Sharing, doc: str, events: Events, accounts: Accounts) -> None:
    sharing.transfer(doc, "olga", "vic")
    assert roles(sharing, doc)["vic"] == "owner" and roles(sharing, doc)["olga"] == "editor"
    assert sorted(events.take()) == sorted([(doc, "vic", "owner"), (doc, "olga", "editor")])
    with pytest.raises(AccessDenied):
        sharing.transfer(doc, "olga", "olga")  # the old owner has no say any more
    sharing.transfer(doc, "boss", "stranger")  # an admin moves it to a non-member
    assert sharing.owners() == {doc: "stranger"} and roles(sharing, doc)["vic"] == "editor"
    sharing.transfer(doc, "stranger", "stranger")  # to oneself: nothing happens
    with pytest.raises(AccountNotFound):
        sharing.transfer(doc, "stranger", "ghost")
    accounts.disable("cora")
    with pytest.raises(AccessDenied, match="disabled"):
        sharing.transfer(doc, "stranger", "cora")
    assert_one_owner(sharing, doc)
    assert sharing.owners() == {doc: "stranger"}


def test_ownerless_documents(sharing: Sharing, doc: str, store: SQLiteStore) -> None:
    store.create("legacy")  # made before accounts
    assert sharing.ownerless() == ["legacy"]
    for attempt in (
        lambda: sharing.add_member("legacy", "boss", "ed", "editor"),  # members without an owner
        lambda: sharing.create_invite("legacy", "boss", "editor"),
    ):
        with pytest.raises(AccessDenied, match="no owner"):
            attempt()
    with pytest.raises(AccessDenied):
        sharing.transfer("legacy", "olga", "olga")  # only an admin adopts it
    sharing.transfer("legacy", "boss", "ed")
    assert sharing.ownerless() == [] and sharing.owners() == {doc: "olga", "legacy": "ed"}


def test_forget(sharing: Sharing, doc: str, events: Events, store: SQLiteStore) -> None:
    sharing.set_link(doc, "olga", "viewer")
    code = sharing.create_invite(doc, "olga", "editor")
    events.take()
    sharing.forget(doc)
    assert sorted(events.take()) == sorted(
        [(doc, u, None) for u in ("olga", "ed", "cora", "vic")] + [(doc, "*", None)]
    )
    assert sharing.members(doc) == [] and sharing.link(doc, "boss").role is None
    with pytest.raises(InviteRefused):
        sharing.redeem_invite(code, "stranger")
    store.delete(doc)
    sharing.forget(doc)  # after the delete: nothing left, everyone re-checked
    assert events.take() == [(doc, "*", None)]


def test_deleting_the_document_takes_its_sharing(sharing: Sharing, doc: str, store: SQLiteStore) -> None:
    link = sharing.set_link(doc, "olga", "editor")
    store.delete(doc)
    store.create(doc)  # the same id again: nothing is inherited
    assert sharing.members(doc) == [] and sharing.role_with_link(doc, None, link.key) is None
    assert sharing.documents_of("ed") == []


# -- link sharing ---------------------------------------------------------------------------


def test_link_sharing(sharing: Sharing, doc: str, events: Events) -> None:
    assert sharing.link(doc, "olga") == LinkInfo(doc, None, None)
    on = sharing.set_link(doc, "olga", "viewer")
    assert on.role == "viewer" and on.key is not None and len(on.key) >= 43
    assert events.take() == [(doc, "*", None)]
    assert on.key not in repr(on)
    assert sharing.role_with_link(doc, None, on.key) == "viewer"
    assert sharing.role_with_link(doc, "stranger", on.key) == "viewer"
    assert sharing.role_with_link(doc, "ed", on.key) == "editor"  # the stronger of the two
    assert sharing.role_with_link(doc, None, None) is None
    for wrong in ("", on.key[:-1], on.key + "x", on.key.upper(), "x" * 10_000, "ключ", "\ud800"):
        assert sharing.role_with_link(doc, None, wrong) is None
    assert sharing.role_with_link(doc, None, 12) is None  # type: ignore[arg-type]
    assert sharing.role_with_link("elsewhere", None, on.key) is None  # a key opens its document only
    same = sharing.set_link(doc, "olga", "editor")
    assert same.key == on.key and sharing.role_with_link(doc, None, on.key) == "editor"
    assert events.take() == [(doc, "*", None)]
    assert sharing.set_link(doc, "olga", "editor") == same and events.take() == []  # no change, no event
    rotated = sharing.set_link(doc, "olga", "editor", rotate=True)
    assert rotated.key != on.key
    assert sharing.role_with_link(doc, None, on.key) is None  # the old link stopped working
    assert sharing.role_with_link(doc, None, rotated.key) == "editor"
    assert events.take() == [(doc, "*", None)]
    off = sharing.set_link(doc, "olga", None)
    assert off == LinkInfo(doc, None, None) and events.take() == [(doc, "*", None)]
    assert sharing.role_with_link(doc, None, rotated.key) is None
    again = sharing.set_link(doc, "olga", "viewer")
    assert again.key not in (on.key, rotated.key)  # a key once off is forgotten
    for bad in ("owner", "Viewer", "", 1):
        with pytest.raises(InvalidAccount):
            sharing.set_link(doc, "olga", bad)  # type: ignore[arg-type]


def test_only_those_with_the_links_role_see_its_key(sharing: Sharing, doc: str) -> None:
    key = sharing.set_link(doc, "olga", "editor").key
    assert sharing.link(doc, "olga").key == key and sharing.link(doc, "boss").key == key
    assert sharing.link(doc, "ed").key == key  # an editor gains nothing from an editor link
    for who in ("vic", "cora", "stranger", None, "not a name"):
        shown = sharing.link(doc, who)
        assert shown == LinkInfo(doc, "editor", None), who  # a viewer must not learn an editor link
    sharing.set_link(doc, "olga", "viewer")
    assert sharing.link(doc, "vic").key is not None and sharing.link(doc, "stranger").key is None


# -- document invites -----------------------------------------------------------------------


def test_an_invite_makes_a_member_once(sharing: Sharing, doc: str, events: Events, clock: Clock) -> None:
    code = sharing.create_invite(doc, "olga", "editor")
    assert len(code) >= 43
    [listed] = sharing.invites(doc, "olga")
    assert listed == DocInvite(secret_key(code), doc, "editor", "olga", clock.now, clock.now + 7 * 86400,
                               None, None, False, "open")
    clock.advance(10)
    member = sharing.redeem_invite(code, "Stranger")
    assert (member.user, member.role, member.added_by) == ("stranger", "editor", "olga")
    assert events.take() == [(doc, "stranger", "editor")]
    [used] = sharing.invites(doc, "boss")
    assert (used.status, used.used_by, used.used_at) == ("used", "stranger", clock.now)
    with pytest.raises(InviteRefused, match="used"):
        sharing.redeem_invite(code, "boss")
    assert sharing.role_of(doc, "boss") is None


def test_invites_that_cannot_be_used(sharing: Sharing, doc: str, clock: Clock, accounts: Accounts) -> None:
    short = sharing.create_invite(doc, "olga", "viewer", ttl=60)
    revoked_by_code = sharing.create_invite(doc, "olga", "viewer")
    revoked_by_key = sharing.create_invite(doc, "olga", "viewer")
    sharing.revoke_invite(doc, "olga", revoked_by_code)
    sharing.revoke_invite(doc, "boss", secret_key(revoked_by_key))
    clock.advance(60)
    with pytest.raises(InviteRefused, match="expired"):
        sharing.redeem_invite(short, "stranger")
    for code in (revoked_by_code, revoked_by_key):
        with pytest.raises(InviteRefused, match="revoked"):
            sharing.redeem_invite(code, "stranger")
    for bogus in ("", "x" * 300, "not-an-invite", secret_key(short), None, *SQL_INJECTIONS):
        with pytest.raises(InviteRefused):
            sharing.redeem_invite(bogus, "stranger")  # type: ignore[arg-type]
    good = sharing.create_invite(doc, "olga", "viewer")
    with pytest.raises(AccountNotFound):
        sharing.redeem_invite(good, "ghost")
    accounts.disable("stranger")
    with pytest.raises(AccessDenied):
        sharing.redeem_invite(good, "stranger")
    assert sharing.role_of(doc, "stranger") is None
    statuses = sorted(i.status for i in sharing.invites(doc, "olga"))
    assert statuses == ["expired", "open", "revoked", "revoked"]
    for bad in ("owner", "admin", ""):
        with pytest.raises(InvalidAccount):
            sharing.create_invite(doc, "olga", bad)
    for ttl in (0, -1, 366 * 86400, float("nan"), "7"):
        with pytest.raises(InvalidAccount):
            sharing.create_invite(doc, "olga", "viewer", ttl=ttl)  # type: ignore[arg-type]


def test_a_redeemed_invite_never_lowers_a_role(sharing: Sharing, doc: str, events: Events) -> None:
    code = sharing.create_invite(doc, "olga", "viewer")
    events.take()
    for who, role in (("olga", "owner"), ("ed", "editor"), ("vic", "viewer")):
        assert sharing.redeem_invite(code, who).role == role
    assert roles(sharing, doc)["olga"] == "owner" and events.take() == []
    assert sharing.invites(doc, "olga")[0].status == "open"  # it gave nothing: still usable
    upgrade = sharing.create_invite(doc, "olga", "editor")
    assert sharing.redeem_invite(upgrade, "vic").role == "editor"
    assert events.take() == [(doc, "vic", "editor")]
    assert_one_owner(sharing, doc)


def test_invites_belong_to_their_document(sharing: Sharing, doc: str, store: SQLiteStore) -> None:
    store.create("other")
    sharing.create_owner("other", "ed")
    theirs = sharing.create_invite("other", "ed", "editor")
    with pytest.raises(InviteNotFound):
        sharing.revoke_invite(doc, "olga", theirs)  # olga owns notes, not other
    with pytest.raises(AccessDenied):
        sharing.revoke_invite("other", "olga", theirs)
    with pytest.raises(InviteNotFound):
        sharing.revoke_invite(doc, "olga", "no-such-code")
    assert sharing.redeem_invite(theirs, "vic").role == "editor"
    assert sharing.role_of("other", "vic") == "editor" and sharing.role_of(doc, "vic") == "viewer"
    assert sharing.invites(doc, "olga") == []


def test_invite_codes_are_stored_hashed(sharing: Sharing, doc: str, db_path: Path, store: SQLiteStore) -> None:
    code = sharing.create_invite(doc, "olga", "editor")
    store.close()
    stored = b"".join(p.read_bytes() for p in db_path.parent.glob(db_path.name + "*"))
    assert code.encode() not in stored and secret_key(code).encode() in stored


# -- listeners ------------------------------------------------------------------------------


def test_a_failing_listener_is_logged_and_the_others_run(sharing: Sharing, doc: str, events: Events,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    def broken(doc: str, user: str, role: str | None) -> None:
        raise RuntimeError("listener bug")

    sharing.on_change(broken)
    later = Events(sharing)
    with caplog.at_level(logging.ERROR):
        sharing.remove_member(doc, "olga", "vic")
    assert events.take() == later.take() == [(doc, "vic", None)]
    assert "on_change listener failed" in caplog.text and sharing.role_of(doc, "vic") is None


# -- the one-owner invariant ----------------------------------------------------------------

ACTORS = ["olga", "ed", "cora", "vic", "stranger", "boss"]
OPS = st.tuples(
    st.sampled_from(["add", "set", "remove", "transfer", "invite"]),
    st.sampled_from(ACTORS),
    st.sampled_from(ACTORS + ["ghost"]),
    st.sampled_from([*DOC_ROLES, "admin"]),
)


class _World:
    """One store and one set of accounts for every hypothesis example (each gets a new document)."""

    def __init__(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.clock = Clock()
        self.store = SQLiteStore(Path(self.dir.name) / "prop.db")
        self.accounts = Accounts(self.store, hasher=Passwords(CHEAP), clock=self.clock, throttle=Throttle(clock=self.clock))
        for name in ACTORS:
            self.accounts.sign_up(name, PASSWORD, admin=name == "boss")
        self.sharing = Sharing(self.store, self.accounts, clock=self.clock)
        self.n = 0

    def new_doc(self) -> str:
        self.n += 1
        doc = f"d{self.n}"
        self.store.create(doc)
        self.sharing.create_owner(doc, "olga")
        return doc


@pytest.fixture(scope="module")
def world() -> _World:
    w = _World()
    yield w  # type: ignore[misc]
    w.store.close()
    w.dir.cleanup()


def _apply(sharing: Sharing, doc: str, op: str, actor: str, target: str, role: str) -> None:
    if op == "add":
        sharing.add_member(doc, actor, target, role)
    elif op == "set":
        sharing.set_role(doc, actor, target, role)
    elif op == "remove":
        sharing.remove_member(doc, actor, target)
    elif op == "transfer":
        sharing.transfer(doc, actor, target)
    else:
        sharing.redeem_invite(sharing.create_invite(doc, actor, role), target)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(OPS, max_size=25))
def test_every_document_keeps_exactly_one_owner_and_only_managers_change_it(world: _World, ops: list[tuple[str, str, str, str]]) -> None:
    sharing = world.sharing
    doc = world.new_doc()
    for op, actor, target, role in ops:
        before = roles(sharing, doc)
        manager = before.get(actor) == "owner" or actor == "boss"
        try:
            _apply(sharing, doc, op, actor, target, role)
        except AccountError:
            pass
        after = roles(sharing, doc)
        assert_one_owner(sharing, doc)
        assert after, "the document lost all its members"
        if after != before and not manager:
            # a non-manager may only leave
            assert op == "remove" and actor == target and after == {u: r for u, r in before.items() if u != actor}
        for user, r in after.items():
            if before.get(user) != r and op != "transfer" and r == "owner":
                raise AssertionError(f"{user} became owner by {op}")


def test_racing_changes_keep_exactly_one_owner(sharing: Sharing, doc: str) -> None:
    """Threads transfer, demote and remove at once: each change is a compare-and-set, so
    the rules hold together too."""
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(25):
            op, actor, target, role = (rng.choice(["add", "set", "remove", "transfer"]), rng.choice(ACTORS),
                                       rng.choice(ACTORS), rng.choice(["editor", "commenter", "viewer"]))
            try:
                _apply(sharing, doc, op, actor, target, role)
            except AccountError:
                pass
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert_one_owner(sharing, doc)
    assert len(sharing.owners()) == 1


def test_racing_redemptions_of_one_invite_make_one_member(sharing: Sharing, doc: str, accounts: Accounts) -> None:
    users = [f"racer{i}" for i in range(6)]
    for u in users:
        accounts.sign_up(u, PASSWORD)
    code = sharing.create_invite(doc, "olga", "editor")
    results: list[object] = []

    def redeem(user: str) -> None:
        try:
            results.append(sharing.redeem_invite(code, user).role)
        except InviteRefused as exc:
            results.append(exc)

    threads = [threading.Thread(target=redeem, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("editor") == 1
    assert sum(1 for u in users if sharing.role_of(doc, u) is not None) == 1


def test_a_change_that_keeps_losing_its_race_changes_nothing(
    sharing: Sharing, doc: str, events: Events, monkeypatch: pytest.MonkeyPatch, store: SQLiteStore
) -> None:
    before = roles(sharing, doc)
    monkeypatch.setattr(store, "update_members", lambda *a, **kw: False)  # someone always got there first
    with pytest.raises(ChangedMeanwhile, match="try again"):
        sharing.add_member(doc, "olga", "stranger", "viewer")
    monkeypatch.setattr(store, "set_link", lambda *a, **kw: False)
    with pytest.raises(ChangedMeanwhile):
        sharing.set_link(doc, "olga", "viewer")
    assert roles(sharing, doc) == before and events.take() == []


# -- a document invite opens sign-up where sign-up needs an invite ------------------------------


def test_a_document_invite_lets_its_invitee_sign_up_on_an_invite_only_server(
    sharing: Sharing, accounts: Accounts, doc: str, clock: Clock
) -> None:
    from cowrite.errors import SignUpRefused

    code = sharing.create_invite(doc, "olga", "editor", ttl=3600)
    accounts.sign_up("newbie", PASSWORD, "New Bie", invite=code, mode="invite")
    # the invite is not used up by the sign-up: it is the redemption that uses it
    member = sharing.redeem_invite(code, "newbie")
    assert (member.user, member.role) == ("newbie", "editor")
    # used now: it admits nobody else, and neither do revoked or expired ones
    with pytest.raises(SignUpRefused):
        accounts.sign_up("second", PASSWORD, invite=code, mode="invite")
    revoked = sharing.create_invite(doc, "olga", "viewer")
    sharing.revoke_invite(doc, "olga", revoked)
    with pytest.raises(SignUpRefused):
        accounts.sign_up("third", PASSWORD, invite=revoked, mode="invite")
    expiring = sharing.create_invite(doc, "olga", "viewer", ttl=60)
    clock.advance(61)
    with pytest.raises(SignUpRefused):
        accounts.sign_up("fourth", PASSWORD, invite=expiring, mode="invite")
    with pytest.raises(SignUpRefused):  # closed stays closed
        accounts.sign_up("fifth", PASSWORD, invite=sharing.create_invite(doc, "olga", "viewer"), mode="closed")
    assert [a.username for a in accounts.accounts() if a.username in ("second", "third", "fourth", "fifth")] == []
