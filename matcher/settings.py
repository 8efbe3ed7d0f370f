"""Every default and bound the service runs with, and how flags and the environment set them.

Each field of ``Limits`` and ``Settings`` is one setting: ``--some-name`` on the command line,
``MATCHER_SOME_NAME`` in the environment (the flag wins), its default and help beside it.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import math
import types
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar, get_args, get_type_hints

T = TypeVar("T", int, float)
ENV_PREFIX = "MATCHER_"
#: Sections of --help, in order; a setting with no group is listed under "server".
SERVER, STORE, OBSERVABILITY = "server", "store", "observability"
CONNECTIONS, LIMITS = "connections", "limits"
GROUP_TITLES = {
    SERVER: "server",
    STORE: "store, replicas and feed sources (docs/operations.md)",
    OBSERVABILITY: "metrics, traces and logs",
    CONNECTIONS: "connections (keepalive and rebalancing)",
    LIMITS: "request limits",
}
#: What a value looks like in --help, by its type, when a setting names none.
METAVARS: dict[object, str] = {int: "N", float: "NUMBER", str: "TEXT", Path: "PATH"}
EPILOG = """\
Each flag falls back to the environment variable shown beside it, then to its default;
MATCHER_PAGE_TOKEN_SECRET and MATCHER_AUTH_KEYS are variables only, so that no secret shows in a
process list. Signals: SIGTERM or SIGINT drain and exit, SIGHUP reloads the feed and the
GeoIP database.
Operators' guide: docs/operations.md."""


def setting(
    default: Any,
    help: str,
    *,
    parse: Callable[[str], Any] | None = None,
    env: str = "",
    flag: bool = True,
    group: str = "",
    metavar: str = "",
) -> Any:
    """A settings field: its default, its help, and optionally how to read it and its variable.

    ``group`` names the section of --help it is listed in; ``metavar`` what its value looks like.
    """
    metadata = {"help": help, "parse": parse, "env": env, "flag": flag}
    return field(default=default, metadata={**metadata, "group": group, "metavar": metavar})


def positive(kind: Callable[[str], T]) -> Callable[[str], T]:
    """A parser for a finite number above zero, so a bad flag or variable fails at start."""

    def parse(text: str) -> T:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"must be above zero: {text!r}")
        return value

    parse.__name__ = getattr(kind, "__name__", "number")
    return parse


def share(text: str) -> float:
    """A parser for a share of records, from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {text}")
    return value


def postgres_uri(text: str) -> str:
    """A parser for the shared store's address: a postgresql:// (or postgres://) URI."""
    if not text.startswith(("postgresql://", "postgres://")):
        raise argparse.ArgumentTypeError("must be a postgresql:// URI")
    return text


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Defaults and bounds of every request."""

    cell_km: float = setting(
        1.0, "size in km of the grid every incoming location is snapped to", parse=positive(float)
    )
    default_radius_km: float = setting(
        25.0, "Match radius when a request gives none", parse=positive(float)
    )
    max_radius_km: float = setting(500.0, "largest Match radius", parse=positive(float))
    default_window_days: int = setting(
        7, "days searched when a request gives no window", parse=positive(int)
    )
    max_window_days: int = setting(
        31, "longest window of a request or a real-time update", parse=positive(int)
    )
    default_page_size: int = setting(20, "Match page size when unset", parse=positive(int))
    max_page_size: int = setting(
        100, "largest Match page size; a larger one is clamped to it", parse=positive(int)
    )
    default_slots: int = setting(10, "slots per matched supplier when unset", parse=positive(int))
    max_slots: int = setting(100, "most slots per matched supplier", parse=positive(int))
    default_listed_slots: int = setting(100, "ListSlots page size when unset", parse=positive(int))
    max_listed_slots: int = setting(
        1000, "largest ListSlots page size; a larger one is clamped to it", parse=positive(int)
    )
    max_slot_checks: int = setting(100, "most slot ids one CheckSlots takes", parse=positive(int))
    max_candidates: int = setting(
        2000,
        "most suppliers one Match examines; past it, the matches found so far are the answer",
        parse=positive(int),
    )
    max_expanded_slots: int = setting(
        50_000,
        "most slots one Match or ListSlots expands; past it, what was found so far is the answer",
        parse=positive(int),
    )
    country_min_population_share: float = setting(
        0.9,
        "share of a country's people (0 to 1) that must keep one legal time for its code to"
        " locate a user",
        parse=share,
    )
    max_update_id_length: int = setting(
        128, "longest update_id of a real-time update", parse=positive(int)
    )
    max_note_length: int = setting(
        200, "longest requested_by note of a feed reload", parse=positive(int)
    )
    page_token_ttl_seconds: int = setting(
        3600, "how long a page token stays valid", parse=positive(int)
    )

    @property
    def default_window(self) -> timedelta:
        """The window searched when a request gives none."""
        return timedelta(days=self.default_window_days)

    @property
    def max_window(self) -> timedelta:
        """The longest window a request or an update may give."""
        return timedelta(days=self.max_window_days)

    @property
    def page_token_ttl(self) -> timedelta:
        """How long a page token stays valid."""
        return timedelta(seconds=self.page_token_ttl_seconds)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """How one server process runs: where it listens, what it serves, and its limits."""

    address: str = setting(
        "localhost:50051",
        "host:port to listen on (port 0 picks a free one); [::]:50051 for all interfaces",
        metavar="HOST:PORT",
    )
    feed: str | None = setting(
        None,
        "supplier feed: a file, a snapshot directory or an http(s) URL; unset, the sample feed",
        metavar="PATH|URL",
    )
    max_rejected_share: float = setting(
        0.0, "share of bad records (0 to 1) a feed may leave out and still load", parse=share
    )
    journal: Path | None = setting(
        None,
        "SQLite file: the store of real-time updates and feed generations for one machine;"
        " without it (or --store) updates are refused",
        group=STORE,
    )
    store: str | None = setting(
        None,
        "postgresql:// URI of the store every replica shares (keep the password in PGPASSWORD"
        " or ~/.pgpass)",
        parse=postgres_uri,
        metavar="URI",
        group=STORE,
    )
    feed_cache: Path | None = setting(
        None,
        "directory downloaded feeds are cached in; unset, ~/.cache/matcher/feeds",
        group=STORE,
    )
    download_timeout_seconds: float = setting(
        30.0,
        "how long a feed download may stall before it fails",
        parse=positive(float),
        group=STORE,
    )
    store_poll_seconds: float = setting(
        1.0,
        "how often a process reads the store even when no notification woke it",
        parse=positive(float),
        group=STORE,
    )
    store_timeout_seconds: float = setting(
        3.0,
        "how long a call waits to reach the store before it fails UNAVAILABLE",
        parse=positive(float),
        group=STORE,
    )
    store_retry_max_seconds: float = setting(
        30.0,
        "longest wait between two attempts to reach the store",
        parse=positive(float),
        group=STORE,
    )
    apply_wait_seconds: float = setting(
        5.0,
        "how long UpdateAvailability waits for this process to serve an update it recorded",
        parse=positive(float),
        group=STORE,
    )
    compact_every_seconds: float = setting(
        600.0,
        "how often a process compacts the store's log",
        parse=positive(float),
        group=STORE,
    )
    compact_after_hours: float = setting(
        24.0,
        "age before a log entry that can change no answer is compacted away; also how long an"
        " update_id is remembered for retries",
        parse=positive(float),
        group=STORE,
    )
    max_workers: int = setting(16, "threads serving calls concurrently", parse=positive(int))
    workers: int = setting(
        1, "server processes sharing the port, forked after the feed loads", parse=positive(int)
    )
    reflection: bool = setting(True, "offer gRPC server reflection")
    log_level: str = setting("INFO", "DEBUG, INFO, WARNING or ERROR", metavar="LEVEL")
    tls_cert: Path | None = setting(None, "PEM certificate chain; with --tls-key, serve TLS")
    tls_key: Path | None = setting(None, "PEM private key of --tls-cert")
    tls_client_ca: Path | None = setting(None, "PEM CA that must sign callers' certificates")
    auth_keys: Path | None = setting(
        None, "caller keys file (python -m matcher.auth hash)", env="MATCHER_AUTH_KEYS_FILE"
    )
    inline_auth_keys: str = setting(
        "",
        "caller key lines, ';'-separated, beside --auth-keys",
        env="MATCHER_AUTH_KEYS",
        flag=False,
    )
    max_concurrent_rpcs: int = setting(
        64,
        "calls queued or running at once (health checks and streams aside); more get "
        "RESOURCE_EXHAUSTED",
        parse=positive(int),
    )
    max_calls_per_caller: int = setting(
        32,
        "calls one caller (a token; without tokens, all callers as one) may have queued or "
        "running at once; more get RESOURCE_EXHAUSTED",
        parse=positive(int),
    )
    auth_failures_per_minute: int = setting(
        30,
        "failed authentications one peer address may make in a moving minute; past it, its "
        "calls that need a token get RESOURCE_EXHAUSTED, unchecked",
        parse=positive(int),
    )
    stream_threads: int = setting(
        8,
        "threads for streams that hold one (reflection); health Watch holds none",
        parse=positive(int),
    )
    switch_interval_ms: float = setting(
        1.0,
        "how long a computing thread may keep Python's interpreter lock while gRPC's own "
        "threads wait for it (Python's default is 5)",
        parse=positive(float),
    )
    busy_retry_seconds: float = setting(
        1.0, "the retry delay a RESOURCE_EXHAUSTED refusal suggests", parse=positive(float)
    )
    grace_seconds: float = setting(
        5.0, "how long SIGTERM lets calls in flight finish", parse=positive(float)
    )
    page_token_secret: str = setting(
        "",
        "key page tokens are signed with; unset: a random one kept in the store, shared by"
        " every process of that store",
        flag=False,
    )
    geoip_db: Path | None = setting(
        None,
        "MaxMind DB file (GeoLite2-City or -Country, DB-IP lite) that places ip_address "
        "locations; unset, they are refused with FAILED_PRECONDITION",
    )
    # MaxMind states its radius at 67% confidence; a file without one (DB-IP lite) earns no
    # better than a large metropolitan area, so at the default 25 km Match radius such a place
    # acts as its country.
    geoip_unstated_accuracy_km: float = setting(
        50.0,
        "accuracy in km taken for a GeoIP place whose database states none (DB-IP lite)",
        parse=positive(float),
    )
    # observability (docs/operations.md "Metrics", "Traces and logs")
    metrics_address: str = setting(
        "",
        "host:port serving Prometheus metrics at /metrics; unset: no metrics endpoint",
        group=OBSERVABILITY,
        metavar="HOST:PORT",
    )
    otlp_endpoint: str = setting(
        "",
        "OTLP/gRPC collector spans are exported to (e.g. http://otel-collector:4317);"
        " unset: no spans exported",
        group=OBSERVABILITY,
        metavar="URL",
    )
    max_request_id_length: int = setting(
        128,
        "longest x-request-id taken from a caller; a longer or malformed one is replaced",
        parse=positive(int),
        group=OBSERVABILITY,
    )
    # connections (docs/operations.md "Connections and Kubernetes")
    keepalive_seconds: float = setting(
        60.0,
        "ping a client after this long without activity, to find dead connections",
        parse=positive(float),
        group=CONNECTIONS,
    )
    keepalive_timeout_seconds: float = setting(
        20.0,
        "close a connection whose ping is not answered within this long",
        parse=positive(float),
        group=CONNECTIONS,
    )
    min_client_ping_seconds: float = setting(
        10.0,
        "shortest interval between a client's keepalive pings the server tolerates",
        parse=positive(float),
        group=CONNECTIONS,
    )
    max_connection_age_seconds: float = setting(
        300.0,
        "ask a client to reconnect after this long (±10%%), so new replicas get traffic",
        parse=positive(float),
        group=CONNECTIONS,
    )
    max_connection_age_grace_seconds: float = setting(
        30.0,
        "how long calls on a connection past its age may still finish",
        parse=positive(float),
        group=CONNECTIONS,
    )
    max_concurrent_streams: int = setting(
        100, "most calls at once on one client connection", parse=positive(int), group=CONNECTIONS
    )
    limits: Limits = field(default_factory=Limits)

    @property
    def compact_after(self) -> timedelta:
        """How old a log entry must be before compaction may delete it."""
        return timedelta(hours=self.compact_after_hours)


def env_name(f: Field[Any]) -> str:
    """The environment variable of a settings field."""
    return str(f.metadata.get("env") or ENV_PREFIX + f.name.upper())


def how_to_set(name: str, *, kind: type[Any] = Settings, value: str = "PATH") -> str:
    """How an operator sets one setting, for messages: "--some-name PATH or MATCHER_SOME_NAME"."""
    chosen = next(f for f in fields(kind) if f.name == name)
    variable = env_name(chosen)
    if not chosen.metadata.get("flag", False):
        return f"{variable}={value}"
    return f"--{name.replace('_', '-')} {value} or {variable}={value}"


def add_arguments(
    parser: argparse._ActionsContainer,
    kind: type[Any],
    *,
    env: Mapping[str, str],
    only: Collection[str] | None = None,
) -> None:
    """Adds a flag for each field of a settings class, its default taken from the environment."""
    hints = get_type_hints(kind)
    for f in fields(kind):
        if only is not None and f.name not in only:
            continue
        if not f.metadata.get("flag", False):
            continue
        flag = "--" + f.name.replace("_", "-")
        variable = env_name(f)
        default = f.default if f.default is not MISSING else None
        help_text = f"{f.metadata['help']} [{variable}; default {_shown(default)}]"
        if hints[f.name] is bool:
            parser.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=_boolean(env[variable]) if variable in env else default,
                help=help_text,
            )
            continue
        parse = f.metadata.get("parse") or _plain(hints[f.name])
        parser.add_argument(
            flag,
            type=parse,
            default=env.get(variable, default),
            help=help_text,
            dest=f.name,
            metavar=f.metadata.get("metavar") or METAVARS.get(_plain(hints[f.name]), "VALUE"),
        )


def _shown(default: Any) -> str:
    """A default as --help shows it: "on"/"off" for switches, "unset" for none, "%" escaped."""
    if default is None or default == "":
        return "unset"
    if isinstance(default, bool):
        return "on" if default else "off"
    return str(default).replace("%", "%%")


def version(distribution: str = "matcher") -> str:
    """The installed version of the project, or "unknown" when run from a bare source tree."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def command_parser(
    *, prog: str, description: str, usage: str | None = None
) -> argparse.ArgumentParser:
    """A parser for one of the project's commands, with --version and the environment epilog."""
    parser = argparse.ArgumentParser(
        prog=prog,
        usage=usage,
        description=description,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{prog} {version()}")
    return parser


def from_arguments(
    args: argparse.Namespace, *, env: Mapping[str, str], base: Settings | None = None
) -> Settings:
    """The settings the parsed flags, the environment-only variables and the defaults give."""
    settings = base or Settings()
    chosen: dict[str, Any] = {}
    limit_values: dict[str, Any] = {}
    for kind, target in ((Settings, chosen), (Limits, limit_values)):
        for f in fields(kind):
            if f.name == "limits":
                continue
            if f.metadata.get("flag", False):
                if hasattr(args, f.name):
                    target[f.name] = getattr(args, f.name)
            elif env_name(f) in env:
                target[f.name] = env[env_name(f)]
    return replace(settings, **chosen, limits=replace(settings.limits, **limit_values))


def parse_settings(
    argv: Sequence[str] | None, *, env: Mapping[str, str], description: str = ""
) -> Settings:
    """Settings from a command line and an environment: every field a flag and a variable."""
    parser = settings_parser(env=env, description=description)
    return from_arguments(parser.parse_args(argv), env=env)


def settings_parser(*, env: Mapping[str, str], description: str = "") -> argparse.ArgumentParser:
    """The server's command line: one flag for each setting, limits included, in sections."""
    parser = command_parser(
        prog="matcher-server", description=description, usage="%(prog)s [options]"
    )
    groups = {name: parser.add_argument_group(title) for name, title in GROUP_TITLES.items()}
    for name, group in groups.items():
        chosen = {f.name for f in fields(Settings) if (f.metadata.get("group") or SERVER) == name}
        add_arguments(group, Settings, env=env, only=chosen)
    add_arguments(groups[LIMITS], Limits, env=env)
    return parser


def _plain(hint: Any) -> Callable[[str], Any]:
    """How to read a field of a plain type (``Path | None`` reads as a Path)."""
    if isinstance(hint, types.UnionType):
        hint = next(a for a in get_args(hint) if a is not type(None))
    return hint  # type: ignore[no-any-return]


def _boolean(text: str) -> bool:
    """An environment variable's truth: 1/true/yes/on or 0/false/no/off."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {text!r}")
