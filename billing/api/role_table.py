"""The API's role rules as one table, read from the views' own declarations.

README.md ("Papéis na API") shows `rules_markdown()`; a test keeps the two equal, so the
documentation cannot drift from `required_roles` and the defaults of
billing.api.permissions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.routers import APIRootView
from rest_framework.views import APIView

from billing.api.permissions import (
    API_KEY_ROLE,
    Role,
    TenantRolePermission,
    roles_for,
)

METHODS = ("get", "post", "put", "patch", "delete")  # HEAD and OPTIONS follow GET
START = "<!-- papeis-api:inicio -->"
END = "<!-- papeis-api:fim -->"


@dataclass(frozen=True)
class Rule:
    path: str  # "/api/chatbots/{id}/"
    method: str  # "PATCH"
    roles: frozenset[str]


def _walk(patterns, prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern.callback


def _readable(route: str) -> str:
    """`api/chatbots/^(?P<pk>\\d+)/$` as `/api/chatbots/{id}/`."""
    route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)
    route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
    return "/" + route.replace("^", "").replace("$", "").replace("{pk}", "{id}")


def _role_checked(cls) -> bool:
    return any(issubclass(p, TenantRolePermission) for p in cls.permission_classes)


def api_rules() -> list[Rule]:
    """Every method of every tenant endpoint under /api/, with the roles that may call it.

    Left out: logins (token endpoints), webhooks (signed by their sender, no user), the
    schema and docs pages, the routers' index pages, and endpoints with their own check
    (tenant provisioning: platform superusers only).
    """
    rules = []
    for route, callback in _walk(get_resolver().url_patterns):
        cls = getattr(callback, "cls", None)
        if not route.startswith("api/") or cls is None or not issubclass(cls, APIView):
            continue
        if "format" in route or issubclass(cls, APIRootView) or not _role_checked(cls):
            continue  # the `.json` suffix routes repeat the plain ones
        actions = getattr(callback, "actions", None)
        for method in METHODS:
            if method not in cls.http_method_names:
                continue
            if actions is not None:
                if method not in actions or not hasattr(cls, actions[method]):
                    continue
                key = actions[method]
            elif hasattr(cls, method):
                key = method
            else:
                continue
            rules.append(Rule(_readable(route), method.upper(), roles_for(cls, key, method)))
    return rules


def rules_markdown(rules: list[Rule] | None = None) -> str:
    """One row per endpoint and group of methods with the same rule."""
    rules = api_rules() if rules is None else rules
    columns = [value for value, _label in Role.choices]
    header = [
        "| Endpoint | Métodos | " + " | ".join(str(Role(c).label) for c in columns),
        " | Chave de API |",
    ]
    lines = ["".join(header), "|---|---|" + ":-:|" * (len(columns) + 1)]
    by_path: dict[str, list[Rule]] = {}
    for rule in rules:
        by_path.setdefault(rule.path, []).append(rule)
    for path, path_rules in by_path.items():
        groups: dict[frozenset[str], list[str]] = {}
        for rule in path_rules:
            groups.setdefault(rule.roles, []).append(rule.method)
        for roles, methods in groups.items():
            marks = ["✓" if c in roles else "—" for c in [*columns, API_KEY_ROLE]]
            lines.append(f"| `{path}` | {', '.join(methods)} | " + " | ".join(marks) + " |")
    return "\n".join(lines)
