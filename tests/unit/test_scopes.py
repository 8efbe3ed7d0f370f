"""The scope each method needs: the shell's policy over full gRPC method names."""

from __future__ import annotations

import pytest

from matcher_api.interceptors import required_scope

MATCH = "/matcher.v1.MatcherService/Match"
ADMIN = "/matcher.v1.FeedAdminService/ReloadFeeds"
HEALTH = "/grpc.health.v1.Health/Check"
REFLECTION = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"


@pytest.mark.parametrize(
    ("method", "scope"),
    [
        (MATCH, "match"),
        (REFLECTION, "match"),
        ("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "match"),
        (ADMIN, "admin"),
        ("/matcher.v1.FeedAdmin/Reload", "admin"),
        ("/other.v2.FeedAdmin/Anything", "admin"),
        (HEALTH, None),
        ("/grpc.health.v1.Health/Watch", None),
    ],
)
def test_each_method_needs_its_service_scope_and_health_needs_none(method, scope):
    assert required_scope(method) == scope
