"""Settings: every field a flag and a MATCHER_* variable, the flag winning, bad values refused."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from matcher.settings import (
    Limits,
    Settings,
    env_name,
    how_to_set,
    parse_settings,
    settings_parser,
    version,
)


def test_no_flags_and_no_environment_give_the_defaults():
    assert parse_settings([], env={}) == Settings()


def test_a_variable_sets_a_value_and_a_flag_wins_over_it():
    env = {"MATCHER_CELL_KM": "2.5", "MATCHER_MAX_PAGE_SIZE": "50"}
    settings = parse_settings(["--max-page-size", "70"], env=env)
    assert settings.limits.cell_km == 2.5
    assert settings.limits.max_page_size == 70


def test_paths_booleans_and_environment_only_settings():
    env = {
        "MATCHER_JOURNAL": "/tmp/j.sqlite",
        "MATCHER_REFLECTION": "0",
        "MATCHER_PAGE_TOKEN_SECRET": "s3cret",
        "MATCHER_AUTH_KEYS_FILE": "/etc/keys",
    }
    settings = parse_settings([], env=env)
    assert settings.journal == Path("/tmp/j.sqlite")
    assert settings.reflection is False
    assert settings.page_token_secret == "s3cret"
    assert settings.auth_keys == Path("/etc/keys")
    assert parse_settings(["--reflection"], env=env).reflection is True


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (["--cell-km", "0"], {}),
        (["--max-rejected-share", "1.5"], {}),
        ([], {"MATCHER_WORKERS": "many"}),
        ([], {"MATCHER_GRACE_SECONDS": "nan"}),
        (["--geoip-unstated-accuracy-km", "0"], {}),
    ],
)
def test_a_bad_value_stops_at_start(argv, env):
    with pytest.raises(SystemExit) as stopped:
        parse_settings(argv, env=env)
    assert stopped.value.code == 2


def test_every_flag_shows_its_variable_and_default_and_no_secret_is_a_flag():
    text = " ".join(settings_parser(env={}).format_help().split())  # undo the line wrapping
    flagged = [f for kind in (Settings, Limits) for f in fields(kind) if f.name != "limits"]
    for f in flagged:
        if f.metadata["flag"]:
            assert "--" + f.name.replace("_", "-") in text
            assert f"[{env_name(f)}; default " in text, f.name
    assert "[MATCHER_AUTH_KEYS_FILE; default unset]" in text
    assert "[MATCHER_MAX_CONNECTION_AGE_SECONDS; default 300.0]" in text
    assert "--page-token-secret" not in text  # a secret never travels on a command line
    assert "MATCHER_PAGE_TOKEN_SECRET" in text  # but the help says which variable holds it


def test_version_names_the_command_and_the_installed_version(capsys):
    with pytest.raises(SystemExit) as stopped:
        parse_settings(["--version"], env={})
    assert stopped.value.code == 0
    assert capsys.readouterr().out == f"matcher-server {version()}\n"
    assert version()[0].isdigit()


def test_the_geoip_database_is_a_flag_and_a_variable_and_unset_by_default():
    assert Settings().geoip_db is None
    assert Settings().geoip_unstated_accuracy_km == 50.0
    env = {"MATCHER_GEOIP_DB": "/var/lib/GeoIP/GeoLite2-City.mmdb"}
    assert parse_settings([], env=env).geoip_db == Path("/var/lib/GeoIP/GeoLite2-City.mmdb")
    flagged = parse_settings(
        ["--geoip-db", "x.mmdb", "--geoip-unstated-accuracy-km", "30"], env=env
    )
    assert (flagged.geoip_db, flagged.geoip_unstated_accuracy_km) == (Path("x.mmdb"), 30.0)


def test_how_to_set_names_the_flag_and_the_variable():
    assert how_to_set("geoip_db") == "--geoip-db PATH or MATCHER_GEOIP_DB=PATH"
    assert how_to_set("page_token_secret", value="KEY") == "MATCHER_PAGE_TOKEN_SECRET=KEY"
