"""The OpenAPI schema's default error answers (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]).

drf-spectacular documents only an operation's success unless told more, while every
operation can also answer, as its view really does:

* 401 when it needs a caller and none (or a bad key or token) came, 403 when the caller's
  role may not do it (billing.api.permissions.TenantRolePermission);
* 404 when its path names an object (`{id}`) or its list is paginated by `page`
  (DRF answers a page past the end with 404);
* 400 when it takes a body or query filters: the body `{"<field>": ["<message>"]}`
  (or `{"detail": ...}`), billing.api.exceptions.

An operation's own declaration of a status (extend_schema) wins over these defaults.
drf-spectacular: https://drf-spectacular.readthedocs.io/en/latest/customization.html
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular import openapi
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.permissions import AllowAny
from rest_framework_simplejwt.views import TokenViewBase

ERROR_SCHEMA = {
    "type": "object",
    "description": "O motivo em `detail`.",
    "properties": {"detail": {"type": "string"}, "code": {"type": "string"}},
}
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": 'Mensagens por campo (`{"campo": ["mensagem"]}`), ou `detail`.',
    "additionalProperties": {},
}
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class AutoSchema(openapi.AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for status, (description, component) in self._error_answers(operation).items():
            responses.setdefault(
                str(status),
                {
                    "description": str(description),
                    "content": {"application/json": {"schema": component.ref}},
                },
            )
        return operation

    def _error_answers(self, operation: dict) -> dict[int, tuple]:
        error = self._component("ErrorDetail", ERROR_SCHEMA)
        answers: dict[int, tuple] = {}
        query = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
        if self.method in BODY_METHODS or query:
            validation = self._component("ValidationError", VALIDATION_ERROR_SCHEMA)
            answers[400] = (_("Dados inválidos: a resposta nomeia cada campo."), validation)
        if self._needs_caller():
            answers[401] = (_("Sem credencial válida (chave de API ou token)."), error)
            answers[403] = (_("O papel de quem chama não permite esta ação."), error)
        elif isinstance(self.view, TokenViewBase):
            answers[401] = (_("Usuário ou senha incorretos, ou token inválido."), error)
        if "{" in self.path or any(p.get("name") == "page" for p in query):
            answers[404] = (_("Não encontrado (ou de outro cliente)."), error)
        return answers

    def _needs_caller(self) -> bool:
        permissions = self.view.get_permissions()
        return bool(permissions) and not all(isinstance(p, AllowAny) for p in permissions)

    def _component(self, name: str, schema: dict) -> ResolvedComponent:
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema
        )
        self.registry.register_on_missing(component)
        return component
