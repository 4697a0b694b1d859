"""The ``cowrite`` command line."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .engine import CowriteError

if TYPE_CHECKING:
    from .server import Limits

__all__ = ["main"]


def _cmd_replay(args: argparse.Namespace) -> int:
    from .replay import replay_file

    t0 = time.perf_counter()
    try:
        done = replay_file(args.file)
    except CowriteError as exc:  # a TraceError or a patch that does not fit
        print(f"cowrite replay: error: {exc}", file=sys.stderr)
        return 1
    t1 = time.perf_counter()
    text = done.text
    out = sys.stdout.buffer
    out.write(text.encode("utf-8"))
    out.flush()
    if args.stats:
        print(
            f"parse and replay {1000 * (t1 - t0):.1f} ms, {done.num_txns} txns, {len(text)} chars",
            file=sys.stderr,
        )
    if args.check:
        if done.end_content is None:
            print("cowrite replay: error: the trace has no endContent to check", file=sys.stderr)
            return 1
        if text != done.end_content:
            print("cowrite replay: error: the result differs from endContent", file=sys.stderr)
            return 2
    return 0


def _store_and_secret(args: argparse.Namespace) -> tuple[Path, bytes]:
    from .server.auth import load_secret

    db = Path(args.db).resolve()
    return db, load_secret(args.secret, beside=db)


def _is_postgres(db: str) -> bool:
    """``--db`` names a PostgreSQL database (a ``postgresql://`` URL), not a SQLite file."""
    scheme, sep, _ = db.partition("://")
    return bool(sep) and scheme.lower() in ("postgresql", "postgres", "postgresql+psycopg")


def _shared_secret(args: argparse.Namespace) -> bytes:
    """The secret for a PostgreSQL store: given, never a file (there is no database file to
    keep it beside, and every server on the database must sign with the same one)."""
    import os

    from .errors import ConfigError
    from .server.auth import load_secret

    if args.secret is None and not os.environ.get("COWRITE_SECRET"):
        raise ConfigError(
            "a PostgreSQL store (or --redis: several servers) needs the token secret every server shares: "
            "pass --secret or set COWRITE_SECRET (at least 32 bytes; there is no database file to keep a secret file beside)"
        )
    return load_secret(args.secret)


def _limits(pairs: Sequence[str]) -> Limits:
    """``Limits`` with ``NAME=VALUE`` overrides (``ConfigError`` naming what is wrong)."""
    import dataclasses

    from .errors import ConfigError
    from .server import Limits

    fields = {f.name: f for f in dataclasses.fields(Limits)}
    overrides: dict[str, int | float] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in fields:
            raise ConfigError(f"--limit takes NAME=VALUE with NAME one of {', '.join(sorted(fields))}, not {pair!r}")
        try:
            overrides[name] = int(raw) if fields[name].type in ("int", int) else float(raw)
        except ValueError:
            raise ConfigError(f"--limit {name} needs a number, not {raw!r}") from None
    return Limits(**overrides)  # type: ignore[arg-type]  # each value has its field's type


def _cmd_serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from .accounts import first_start_hint
    from .server import Server, issue_token, redact_tokens_in_logs
    from .server.headers_in_time import HeadersInTime
    from .store import SQLiteStore, Store, open_store

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        limits = _limits(args.limit)
        store: Store
        if args.redis is not None and not args.redis.startswith(("redis://", "rediss://", "unix://")):
            from .errors import ConfigError

            raise ConfigError(f"--redis takes a redis://host:port/db URL, not {args.redis!r}")
        if _is_postgres(args.db) or args.redis is not None:
            secret = _shared_secret(args)
        if _is_postgres(args.db):
            store = open_store(args.db)
            db: object = store  # shown as <PostgresStore postgresql://user@host/db>, no password
        else:
            db, file_secret = _store_and_secret(args)
            if args.redis is None:
                secret = file_secret
            store = SQLiteStore(db)
    except CowriteError as exc:
        print(f"cowrite serve: error: {exc}", file=sys.stderr)
        return 1
    try:
        loopback = _is_loopback(args.host)
        guests = args.guests or ("owner" if loopback else "none")
        # On a loopback address guests are only let in under its loopback names: a web page
        # that re-binds its own domain to 127.0.0.1 must not get a token (DNS rebinding).
        guest_hosts = ("localhost", "127.0.0.1", "::1", args.host) if loopback else ()
        # Anyone on this machine may make an account on loopback; elsewhere only with an invite.
        signup = args.signup or ("open" if loopback else "invite")
        server = Server(
            store,
            secret,
            limits=limits,
            allowed_origins=tuple(args.allow_origin),
            guests=guests,
            guest_hosts=guest_hosts,
            signup=signup,
            secure_cookies=args.secure_cookies,
            shared=_is_postgres(args.db) or args.redis is not None,
            redis_url=args.redis,
            server_id=args.server_id,
            redis_prefix=args.redis_prefix,
        )
        token = issue_token(secret, "admin", doc="*", role="owner", ttl=12 * 3600)
        config = uvicorn.Config(
            server.app,
            host=args.host,
            port=args.port,
            ws_max_size=limits.max_message_bytes + 4096,
            log_level=args.log_level,
            lifespan="on",
            # The client's address is the connection's unless it comes from a --trusted-proxy:
            # uvicorn would otherwise believe X-Forwarded-For/-Proto from any loopback peer
            # (a proxy on this host that passes them through, or any local process), so one
            # attacker could name a fresh address per sign-in guess and never meet the
            # per-address backoff.
            proxy_headers=bool(args.trusted_proxy),
            forwarded_allow_ips=args.trusted_proxy or None,
            http=HeadersInTime,  # a request's head must arrive within seconds (no slowloris)
        )
        # uvicorn prints request targets (?token=... included): blank the tokens, now
        # that its logging is configured.
        redact_tokens_in_logs()
        url = _url(args.host, args.port)
        print(f"cowrite: serving {url}  (documents in {db})", flush=True)
        if guests == "none":
            print("cowrite: guests: none (pages need a link with ?token=..., made with `cowrite token`)", flush=True)
        else:
            why = "the default on a loopback address" if args.guests is None else "--guests"
            print(f"cowrite: guests: anyone who opens the page and types a name gets role {guests} ({why})", flush=True)
        why = "the default on a loopback address" if loopback else "the default off loopback"
        print(f"cowrite: sign-up: {signup} ({'--signup' if args.signup else why})", flush=True)
        hint = first_start_hint(server.accounts, db=args.db)
        if hint is not None:
            print(hint, file=sys.stderr, flush=True)
        print(f"cowrite: an owner token for the next 12 hours (more with `cowrite token`):\n  {token}", flush=True)
        if guests == "none":
            print(f"cowrite: open {url}/?token={token} in a browser", flush=True)
        else:
            print(f"cowrite: open {url}/ in a browser", flush=True)
        from .server.drain import DrainingUvicorn

        DrainingUvicorn(config, server).run()  # on SIGTERM: acknowledge what is in flight, close 1012, exit
    except CowriteError as exc:
        print(f"cowrite serve: error: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _url(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # what to type on this machine
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _cmd_token(args: argparse.Namespace) -> int:
    from .server import issue_token

    try:
        secret = _shared_secret(args) if _is_postgres(args.db) else _store_and_secret(args)[1]
        print(issue_token(secret, args.user, doc=args.doc, role=args.role, ttl=args.ttl, name=args.name))
    except CowriteError as exc:
        print(f"cowrite token: error: {exc}", file=sys.stderr)
        return 1
    return 0


# -- cowrite user ... (accounts) ---------------------------------------------------------


def _read_password(prompt: str = "Password: ") -> str:
    """A password from a prompt (asked twice, the two must match) when stdin is a terminal,
    else one line of stdin: never from argv, where other users of the machine see it."""
    import getpass

    from .errors import InvalidAccount

    if sys.stdin is not None and sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("Again: ") != first:
            raise InvalidAccount("the two passwords differ")
        return first
    if sys.stdin is None:
        raise InvalidAccount("no password: give it on stdin (one line) or run in a terminal")
    line = sys.stdin.readline(4096)
    if not line:
        raise InvalidAccount("no password: give it on stdin (one line) or run in a terminal")
    return line.removesuffix("\n").removesuffix("\r")


def _cmd_user(args: argparse.Namespace) -> int:
    import datetime

    from .accounts import CLI_INVITER, Accounts, normalize_username
    from .errors import AccountNotFound
    from .store import open_store

    try:
        with open_store(args.db) as store:  # a file path or a postgresql:// URL
            accounts = Accounts(store)
            if args.action == "add":
                account = accounts.sign_up(
                    args.username, _read_password(), args.name, admin=args.admin, mode="open"
                )
                role = "administrator" if account.admin else "user"
                print(f"cowrite: added {role} {account.username!r} ({account.name})", file=sys.stderr)
            elif args.action == "passwd":
                user = normalize_username(args.username)
                if accounts.account(user) is None:  # say so before asking for a password
                    raise AccountNotFound(user)
                accounts.set_password(user, _read_password("New password: "))
                print(f"cowrite: password of {user!r} set; its sessions are signed out", file=sys.stderr)
            elif args.action == "disable":
                accounts.disable(args.username)
                user = normalize_username(args.username)
                print(f"cowrite: {user!r} disabled; its sessions are signed out", file=sys.stderr)
            elif args.action == "enable":
                accounts.enable(args.username)
                print(f"cowrite: {normalize_username(args.username)!r} enabled", file=sys.stderr)
            elif args.action == "list":
                for a in accounts.accounts():
                    created = datetime.datetime.fromtimestamp(a.created_at, datetime.UTC).strftime("%Y-%m-%d")
                    flags = ",".join(f for f, on in (("admin", a.admin), ("disabled", a.disabled)) if on) or "-"
                    print(f"{a.username}\t{flags}\t{created}\t{a.name}")
            else:  # invite
                print(accounts.create_invite(CLI_INVITER, ttl=args.ttl))
    except CowriteError as exc:
        print(f"cowrite user {args.action}: error: {exc}", file=sys.stderr)
        return 1
    return 0


def _user_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    us = sub.add_parser("user", help="manage accounts (passwords are read from a prompt or stdin)")
    acts = us.add_subparsers(dest="action", required=True)
    db_help = "the server's SQLite file (default ./cowrite.db)"

    def action(name: str, help: str, username: bool = True) -> argparse.ArgumentParser:
        p = acts.add_parser(name, help=help)
        if username:
            p.add_argument("username")
        p.add_argument("--db", default="cowrite.db", help=db_help)
        p.set_defaults(func=_cmd_user)
        return p

    add = action("add", "create an account (asks for its password)")
    add.add_argument("--name", help="display name (default: the username)")
    add.add_argument("--admin", action="store_true", help="make it an administrator")
    action("passwd", "set an account's password (asks for it) and sign out its sessions")
    action("disable", "stop an account from signing in and sign out its sessions")
    action("enable", "let a disabled account sign in again")
    action("list", "list the accounts: username, flags, created, display name", username=False)
    inv = action("invite", "make a sign-up invite code (printed once)", username=False)
    inv.add_argument("--ttl", type=float, default=7 * 86400, help="seconds until it expires (default: a week)")


# -- cowrite share ... (document owners) -------------------------------------------------


def _cmd_share(args: argparse.Namespace) -> int:
    from .accounts import CLI_OPERATOR, Accounts, Sharing, normalize_username
    from .store import open_store

    try:
        with open_store(args.db) as store:  # a file path or a postgresql:// URL
            sharing = Sharing(store, Accounts(store), operators={CLI_OPERATOR})
            if args.action == "list":
                owners = sharing.owners()
                for info in store.documents():
                    print(f"{info.id}\t{owners.get(info.id, '-')}")
            elif args.action == "members":
                for m in sharing.members(args.doc):
                    print(f"{m.user}\t{m.role}\t{m.name or ''}")
            else:  # owner
                sharing.transfer(args.doc, CLI_OPERATOR, args.username)
                user = normalize_username(args.username)
                print(f"cowrite: {user!r} owns {args.doc!r} (a previous owner is now an editor)", file=sys.stderr)
    except CowriteError as exc:
        print(f"cowrite share {args.action}: error: {exc}", file=sys.stderr)
        return 1
    return 0


def _share_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sh = sub.add_parser("share", help="see and set who owns documents (an administrator's tool)")
    acts = sh.add_subparsers(dest="action", required=True)
    db_help = "the server's SQLite file (default ./cowrite.db)"
    ls = acts.add_parser("list", help="list the documents and their owners ('-': none, made before accounts)")
    members = acts.add_parser("members", help="list a document's members: username, role, display name")
    members.add_argument("doc")
    owner = acts.add_parser("owner", help="make an account the owner of a document (the old owner becomes an editor)")
    owner.add_argument("doc")
    owner.add_argument("username")
    for p in (ls, members, owner):
        p.add_argument("--db", default="cowrite.db", help=db_help)
        p.set_defaults(func=_cmd_share)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cowrite", description="Real-time collaborative text editing.")
    sub = parser.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("replay", help="replay an editing trace and print the final text")
    rp.add_argument("file", help="trace file (.json or .json.gz), sequential or concurrent")
    rp.add_argument("--check", action="store_true", help="compare the result with the trace's endContent")
    rp.add_argument("--stats", action="store_true", help="print timings to stderr")
    rp.set_defaults(func=_cmd_replay)

    sv = sub.add_parser("serve", help="run the collaboration server")
    sv.add_argument("--host", default="127.0.0.1")
    sv.add_argument("--port", type=int, default=8000)
    sv.add_argument(
        "--db",
        default="cowrite.db",
        help="SQLite file (created if missing; default ./cowrite.db) or postgresql://user@host/db",
    )
    sv.add_argument(
        "--secret",
        help="token signing secret (default: $COWRITE_SECRET or <db>.secret; required for postgresql://)",
    )
    sv.add_argument("--allow-origin", action="append", default=[], help="extra allowed browser Origin ('*': any)")
    sv.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    sv.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set one of the server's limits (cowrite.server.Limits), e.g. max_request_bytes=65536; repeatable",
    )
    sv.add_argument(
        "--guests",
        choices=["none", "viewer", "editor", "owner"],
        help="role of guests who open the web editor and type a name (default: owner on a loopback "
        "host such as 127.0.0.1, none otherwise: then pages need a token link)",
    )
    sv.add_argument(
        "--signup",
        choices=["open", "invite", "closed"],
        help="who may create an account on the sign-in page: anyone, holders of an invite link "
        "(made by an admin), or nobody (default: open on a loopback host, invite otherwise)",
    )
    sv.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="the address (or CIDR network) of a load balancer whose X-Forwarded-For and "
        "X-Forwarded-Proto headers are believed (repeatable); the per-address sign-in backoff "
        "then sees the clients' own addresses.  Without it, those headers are ignored",
    )
    sv.add_argument(
        "--secure-cookies",
        action="store_true",
        help="mark the session cookie Secure even on plain-http requests (behind a TLS proxy that "
        "does not send X-Forwarded-Proto); it is always Secure on https",
    )
    sv.add_argument(
        "--redis",
        default=os.environ.get("COWRITE_REDIS") or None,
        metavar="URL",
        help="redis://host:port/db: tell the other servers on the same database of each commit "
        "(default $COWRITE_REDIS; without it, servers on one PostgreSQL database poll it); needs --secret",
    )
    sv.add_argument(
        "--redis-prefix",
        default=os.environ.get("COWRITE_REDIS_PREFIX", "cowrite"),
        help="prefix of the Redis channel (<prefix>:commits); servers of one cluster use the same one "
        "(default $COWRITE_REDIS_PREFIX or cowrite)",
    )
    sv.add_argument(
        "--server-id",
        default=os.environ.get("COWRITE_SERVER_ID") or None,
        help="this server's name in the cluster (default $COWRITE_SERVER_ID or <host>-<pid>-<random>)",
    )
    sv.set_defaults(func=_cmd_serve)

    tk = sub.add_parser("token", help="issue an access token (signed with the server's secret)")
    tk.add_argument("--user", required=True)
    tk.add_argument("--name", help="display name (default: the user)")
    tk.add_argument("--doc", default="*", help="document id, or '*' for all (default)")
    tk.add_argument("--role", default="editor", choices=["owner", "editor", "viewer"])
    tk.add_argument("--ttl", type=int, default=24 * 3600, help="seconds until it expires (default: a day)")
    tk.add_argument("--db", default="cowrite.db", help="the server's database (its secret sits beside it)")
    tk.add_argument("--secret", help="signing secret (default: $COWRITE_SECRET or <db>.secret)")
    tk.set_defaults(func=_cmd_token)

    _user_parser(sub)
    _share_parser(sub)

    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:  # pragma: no cover
        return 130
    except BrokenPipeError:  # pragma: no cover - e.g. `cowrite replay f | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
