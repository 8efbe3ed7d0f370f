"""Request ids: a caller's is kept only if short printable ASCII; addresses of the endpoints."""

from __future__ import annotations

import re

import pytest

from matcher_api.correlation import request_id
from matcher_api.observability import host_port
from matcher_api.server import worker_metrics_address


@pytest.mark.parametrize("sent", ["abc", "checkout-7f3a.b/2", "a:b@c+d=e_f", "x" * 128])
def test_an_acceptable_request_id_is_kept(sent):
    assert request_id([("x-request-id", sent)]) == sent


@pytest.mark.parametrize("sent", ["", "x" * 129, "a b", "é", "a\nb", 'a"b', "a<b>"])
def test_an_unacceptable_request_id_is_replaced_by_a_new_one(sent):
    made = request_id([("x-request-id", sent)])
    assert re.fullmatch(r"[0-9a-f]{32}", made)


def test_the_length_cap_is_the_setting_and_the_first_header_counts():
    assert re.fullmatch(r"[0-9a-f]{32}", request_id([("x-request-id", "abcdef")], max_length=5))
    assert request_id([("x-request-id", "first"), ("x-request-id", "second")]) == "first"
    assert re.fullmatch(r"[0-9a-f]{32}", request_id([("x-request-id-bin", b"\x00")]))


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:9464", ("127.0.0.1", 9464)),
        ("[::]:9464", ("::", 9464)),
        (":9464", ("0.0.0.0", 9464)),
        ("localhost:0", ("localhost", 0)),
    ],
)
def test_a_metrics_address_is_a_host_and_a_port(address, expected):
    assert host_port(address) == expected


@pytest.mark.parametrize("address", ["9464", "host:", "host:http"])
def test_a_metrics_address_without_a_port_is_refused(address):
    with pytest.raises(ValueError, match="host:port"):
        host_port(address)


def test_each_worker_serves_metrics_on_the_next_port():
    assert worker_metrics_address("[::]:9464", 1) == "[::]:9465"
    assert worker_metrics_address("127.0.0.1:9464", 0) == "127.0.0.1:9464"
    assert worker_metrics_address("", 3) == ""
