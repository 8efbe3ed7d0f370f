#!/bin/sh
# Installs the servers that `make test` and `make bench` start: PostgreSQL with PostGIS, and Redis.
# Idempotent and quick when they are present; on Debian it installs what is missing with apt-get
# (as root, or through sudo), running `apt-get update` only when the package lists need it.
set -eu

say() { printf 'system: %s\n' "$*"; }
fail() { printf 'system: %s\n' "$*" >&2; exit 1; }

# The newest PostgreSQL server installed, else the major version Debian's `postgresql` would bring.
pg_major() {
    for bin in /usr/lib/postgresql/*/bin/postgres; do
        [ -x "$bin" ] && basename "$(dirname "$(dirname "$bin")")"
    done | sort -n | tail -n 1 | grep . && return 0
    apt-cache policy postgresql 2>/dev/null |
        sed -n 's/^ *Candidate: \([0-9][0-9]*\)+.*/\1/p' | grep .
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
has_candidate() { apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [^(]'; }

if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
    # Not Debian: accept servers installed by hand, if they are all there.
    bindir=$(pg_config --bindir 2>/dev/null || true)
    sharedir=$(pg_config --sharedir 2>/dev/null || true)
    if [ -x "$bindir/initdb" ] && [ -f "$sharedir/extension/postgis.control" ] &&
        command -v redis-server >/dev/null 2>&1; then
        say "PostgreSQL in $bindir, PostGIS and Redis present (no apt-get here)"
        exit 0
    fi
    fail "no apt-get here: install PostgreSQL with PostGIS (pg_config on PATH) and redis-server yourself"
fi

if [ "$(id -u)" = 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1; then
    as_root="sudo"
else
    as_root="none"
fi
apt_get() {
    [ "$as_root" = none ] && fail "missing packages ($missing) and neither root nor sudo: install them as root"
    # Waits for another apt-get rather than failing on its lock; never asks a question.
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=600 "$@"
}

major=$(pg_major || true)
if [ -z "$major" ]; then
    missing="postgresql"
    say "no PostgreSQL installed nor known to apt: apt-get update"
    apt_get update
    major=$(pg_major) || fail "apt-get knows no postgresql package"
fi

missing=""
for pkg in postgresql "postgresql-$major" "postgresql-$major-postgis-3" redis-server; do
    installed "$pkg" || missing="$missing $pkg"
done
missing=${missing# }
if [ -z "$missing" ]; then
    say "PostgreSQL $major, PostGIS and Redis present"
    exit 0
fi

say "installing $missing"
for pkg in $missing; do
    if ! has_candidate "$pkg"; then
        say "apt-get knows no $pkg yet: apt-get update"
        apt_get update
        break
    fi
done
# shellcheck disable=SC2086 # one word per package
if ! apt_get install --no-install-recommends $missing; then
    say "install failed, perhaps on stale package lists: apt-get update and one more try"
    apt_get update
    apt_get install --no-install-recommends $missing
fi
for pkg in $missing; do
    installed "$pkg" || fail "$pkg is still not installed"
done
say "installed $missing"
