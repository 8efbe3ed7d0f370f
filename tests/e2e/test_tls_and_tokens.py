"""matcher-server over TLS with caller tokens, called by the real grpcurl as the README shows."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from matcher.auth import digest
from tests.conftest import TINY_FEED
from tests.e2e.conftest import SERVER
from tests.e2e.serving import PATIENCE_S, grpcurl, running, write_certs, write_protoset

pytestmark = pytest.mark.e2e

TOKEN = "member-backend-token"
OLD_TOKEN = "retired-token"
MATCH = "matcher.v1.MatcherService/Match"
HEALTH = "grpc.health.v1.Health/Check"
LONDON = {"location": {"point": {"lat": 51.5136, "lng": -0.1365}}, "page_size": 1}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Certificates, a keys file and a protoset, written for this module only."""
    out = tmp_path_factory.mktemp("tls")
    write_certs(out)
    keys = out / "keys.txt"
    keys.write_text(
        f"{digest(TOKEN)} match\n{digest(OLD_TOKEN)} match expires=2000-01-01\n", encoding="utf-8"
    )
    write_protoset(out / "matcher.protoset")
    return out


def tls_server(files, *extra: str, env: dict[str, str] | None = None):
    return running(
        [
            "--feed",
            str(TINY_FEED),
            "--tls-cert",
            str(files / "server.pem"),
            "--tls-key",
            str(files / "server.key"),
            "--auth-keys",
            str(files / "keys.txt"),
            *extra,
        ],
        env=env,
    )


@pytest.fixture(scope="module")
def tls(files):
    with tls_server(files) as server:
        yield server


@pytest.fixture(scope="module")
def mtls(files):
    # gRPC core's own lines (silenced by default) show the handshake refusals server-side
    verbose = {"GRPC_VERBOSITY": "INFO"}
    with tls_server(files, "--tls-client-ca", str(files / "ca.pem"), env=verbose) as server:
        yield server


def call(files, server, method, *flags, data=None):
    """grpcurl over TLS, trusting the test CA, with descriptors from the protoset."""
    return grpcurl(
        "-cacert",
        str(files / "ca.pem"),
        "-protoset",
        str(files / "matcher.protoset"),
        *flags,
        server.target,
        method,
        data=data,
    )


def bearer(token):
    return ("-H", f"authorization: Bearer {token}")


def test_a_valid_token_over_tls_matches(files, tls):
    result = call(files, tls, MATCH, *bearer(TOKEN), data=LONDON)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["matches"][0]["supplier"]["id"] == "london-gp"


@pytest.mark.parametrize(
    "flags",
    [(), bearer("forged-token"), bearer(digest(TOKEN)), bearer(OLD_TOKEN)],
    ids=["missing", "forged", "digest-as-token", "expired"],
)
def test_a_missing_forged_or_expired_token_is_unauthenticated(files, tls, flags):
    result = call(files, tls, MATCH, *flags, data=LONDON)
    assert result.returncode != 0
    assert "Code: Unauthenticated" in result.stderr


def test_the_health_check_answers_serving_without_a_token(files, tls):
    result = call(files, tls, HEALTH)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"status": "SERVING"}


def test_reflection_lists_services_only_for_a_token_holder(files, tls):
    ca = ("-cacert", str(files / "ca.pem"))
    listed = grpcurl(*ca, *bearer(TOKEN), tls.target, "list")
    assert listed.returncode == 0, listed.stderr
    assert "matcher.v1.MatcherService" in listed.stdout.split()
    refused = grpcurl(*ca, tls.target, "list")
    assert refused.returncode != 0
    assert "Unauthenticated" in refused.stderr


def test_plaintext_against_the_tls_port_fails(files, tls):
    result = grpcurl("-plaintext", "-protoset", str(files / "matcher.protoset"), tls.target, HEALTH)
    assert result.returncode != 0
    assert "SERVING" not in result.stdout


def test_a_client_that_does_not_trust_the_ca_refuses_the_server(files, tls):
    result = grpcurl("-protoset", str(files / "matcher.protoset"), tls.target, HEALTH)
    assert result.returncode != 0
    assert "certificate" in result.stderr


def test_mutual_tls_refuses_a_caller_without_a_client_certificate(files, mtls):
    result = call(files, mtls, HEALTH)
    assert result.returncode != 0
    assert "SERVING" not in result.stdout
    mtls.wait_for(re.compile("Handshake failed .*PEER_DID_NOT_RETURN_A_CERTIFICATE"))


def test_mutual_tls_accepts_a_caller_with_a_client_certificate_and_token(files, mtls):
    cert = ("-cert", str(files / "client.pem"), "-key", str(files / "client.key"))
    result = call(files, mtls, MATCH, *cert, *bearer(TOKEN), data=LONDON)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["matches"]


def test_the_server_warns_of_neither_plaintext_nor_open_access_when_both_are_configured(tls):
    warnings = [e["message"] for e in tls.log_entries() if e["level"] == "WARNING"]
    assert not [w for w in warnings if "PLAINTEXT" in w or "AUTHENTICATION OFF" in w]


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--auth-keys", "{files}/bad-keys.txt"], "bad-keys.txt:1: expected"),
        (["--auth-keys", "{files}/absent.txt"], "absent.txt"),
        (["--tls-cert", "{files}/server.pem"], "--tls-cert and --tls-key go together"),
        (["--tls-client-ca", "{files}/ca.pem"], "--tls-client-ca needs --tls-cert"),
        (["--tls-cert", "{files}/absent.pem", "--tls-key", "{files}/server.key"], "absent.pem"),
    ],
    ids=["bad-keys", "missing-keys", "cert-without-key", "client-ca-without-tls", "missing-cert"],
)
def test_bad_security_settings_stop_the_server_at_start_with_exit_2(files, flags, said):
    (files / "bad-keys.txt").write_text("s3cret-plaintext-token match\n", encoding="utf-8")
    args = [flag.format(files=files) for flag in flags]
    done = subprocess.run(
        [*SERVER, "--feed", str(TINY_FEED), *args],
        capture_output=True,
        text=True,
        timeout=PATIENCE_S,
        check=False,
    )
    assert done.returncode == 2
    assert said in done.stderr
    assert "s3cret" not in done.stderr
