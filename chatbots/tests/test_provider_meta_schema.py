"""Every body MetaProvider builds is valid for Meta's own request schema.

The schema is `POST /{Version}/{Phone-Number-ID}/messages` (`Message`) in Meta's OpenAPI
description, tests/corpus/meta-openapi/business-messaging-api_v23.0.yaml; read receipts are
`MarkMessageRequestPayload`. Two faithful adjustments make the description checkable by a
JSON Schema validator (each is checked below on Meta's own examples):

* `allOf: [BaseMessageProperties, {additionalProperties: false, ...}]` means "no properties
  but the declared ones" in OpenAPI tools; read literally, it would reject the base ones
  (`to`, `messaging_product`). It becomes `unevaluatedProperties: false` on the `allOf`.
* `discriminator.mapping` (ignored by JSON Schema) becomes `if type == x then <mapped
  schema>`, so template components and parameters are checked against their own schemas.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from chatbots.providers.meta import build_body, mark_read_body
from chatbots.wire import (
    Button,
    Buttons,
    ListMessage,
    Media,
    Row,
    Section,
    Template,
    Text,
)

CORPUS = Path(settings.BASE_DIR) / "tests" / "corpus" / "meta-openapi"
SPEC = CORPUS / "business-messaging-api_v23.0.yaml"
REF = "#/components/schemas/"


def _close_allof(node) -> None:
    if isinstance(node, dict):
        branches = node.get("allOf")
        if isinstance(branches, list) and any(
            isinstance(b, dict) and b.get("additionalProperties") is False for b in branches
        ):
            for branch in branches:
                if isinstance(branch, dict) and branch.get("additionalProperties") is False:
                    del branch["additionalProperties"]
            node["unevaluatedProperties"] = False
        for value in node.values():
            _close_allof(value)
    elif isinstance(node, list):
        for value in node:
            _close_allof(value)


def _apply_discriminators(schemas: dict) -> None:
    extra = {}
    for name, schema in schemas.items():
        mapping = (
            (schema.get("discriminator") or {}).get("mapping") if isinstance(schema, dict) else None
        )
        if not mapping:
            continue
        prop = schema["discriminator"]["propertyName"]
        rules = []
        for value, ref in mapping.items():
            target_name = ref.removeprefix(REF)
            target = copy.deepcopy(schemas[target_name])
            # Mapped schemas extend the parent (allOf: [$ref parent, ...]); the parent's own
            # rules already apply here, and keeping the back-reference would recurse forever.
            if "allOf" in target:
                target["allOf"] = [b for b in target["allOf"] if b != {"$ref": REF + name}]
            alias = f"{target_name}__via_{name}"
            extra[alias] = target
            rules.append(
                {
                    "if": {"properties": {prop: {"const": value}}, "required": [prop]},
                    "then": {"$ref": REF + alias},
                }
            )
        schema.setdefault("allOf", []).extend(rules)
    schemas.update(extra)


@functools.cache
def _schemas() -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # ~1 MB: parse it once, fast
    spec = yaml.load(SPEC.read_text(encoding="utf-8"), Loader=loader)
    schemas = copy.deepcopy(spec["components"]["schemas"])
    _close_allof(schemas)
    _apply_discriminators(schemas)
    return schemas


@functools.cache
def validator(schema_name: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": REF + schema_name, "components": {"schemas": _schemas()}})


def schema_errors(body: dict, schema_name: str = "Message") -> str:
    error = best_match(validator(schema_name).iter_errors(body))
    if error is None:
        return ""
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    details = "; ".join(e.message[:160] for e in (error.context or [])[:6])
    return f"{where}: {error.message[:300]} {details}"


TO = "5511987654321"

BODIES = {
    "text": Text(body="Olá! Seu pedido saiu para entrega."),
    "text_with_preview": Text(body="Acompanhe: https://exemplo.com.br/pedido/42", preview_url=True),
    "buttons_minimal": Buttons(body="Confirma o pedido?", buttons=[Button(id="sim", title="Sim")]),
    "buttons_with_header_and_footer": Buttons(
        body="Confirma o pedido de 2 pães?",
        header="Padaria Pão Quente",
        footer="Responda em até 10 minutos",
        buttons=[
            Button(id="confirmar", title="Confirmar"),
            Button(id="alterar", title="Alterar"),
            Button(id="cancelar", title="Cancelar"),
        ],
    ),
    "list_one_section_without_title": ListMessage(
        body="Escolha uma categoria",
        button="Ver categorias",
        sections=[Section(title="", rows=[Row(id="paes", title="Pães")])],
    ),
    "list_with_sections": ListMessage(
        body="O que vai ser hoje?",
        button="Ver cardápio",
        header="Cardápio",
        footer="Preços com entrega",
        sections=[
            Section(
                title="Pães",
                rows=[
                    Row(id="p1", title="Pão francês", description="R$ 0,90 a unidade"),
                    Row(id="p2", title="Pão de queijo"),
                ],
            ),
            Section(title="Doces", rows=[Row(id="d1", title="Sonho", description="Creme")]),
        ],
    ),
    "template_with_params": Template(
        name="pedido_atualizado", language="pt_BR", params=["Maria", "#42", "saiu para entrega"]
    ),
    "template_without_params": Template(name="hello_world", language="en_US"),
}
for _kind in ("image", "video", "audio", "document", "sticker"):
    _extras = {}
    if _kind in ("image", "video", "document"):
        _extras["caption"] = "Seu comprovante"
    if _kind == "document":
        _extras["filename"] = "comprovante.pdf"
    BODIES[f"{_kind}_by_link"] = Media(
        media_type=_kind, link=f"https://exemplo.com.br/arquivo.{_kind}", **_extras
    )
    BODIES[f"{_kind}_by_id"] = Media(media_type=_kind, media_id="1013859600285441", **_extras)


@pytest.mark.parametrize("name", sorted(BODIES))
def test_every_outbound_body_is_valid_for_metas_schema(name):
    body = build_body(TO, BODIES[name])

    assert schema_errors(body) == ""
    assert body["to"] == "+5511987654321"


@pytest.mark.parametrize("name", ["text", "buttons_with_header_and_footer", "image_by_id"])
def test_a_quoted_reply_is_valid_for_metas_schema(name):
    body = build_body(TO, BODIES[name], context_id="wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI")

    assert body["context"] == {"message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI"}
    assert schema_errors(body) == ""


def test_the_read_receipt_body_is_valid_for_metas_schema():
    body = mark_read_body("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI")

    assert schema_errors(body, "MarkMessageRequestPayload") == ""
    assert body == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI",
    }


@pytest.mark.parametrize(
    "example",
    [
        "send-send-text-message.json",
        "send-send-reply-to-text-message.json",
        "send-send-reply-button.json",
        "send-send-list-message.json",
        "send-send-image-message-by-id.json",
        "send-send-document-message-by-url.json",
        "send-send-sticker-message-by-url.json",
    ],
)
def test_the_validator_accepts_metas_own_examples(example):
    assert schema_errors(json.loads((CORPUS / example).read_text(encoding="utf-8"))) == ""


@pytest.mark.parametrize(
    "breakage",
    ["unknown_top_level_key", "four_buttons", "long_button_title", "missing_to", "bad_param"],
)
def test_the_validator_rejects_broken_bodies(breakage):
    body = build_body(TO, BODIES["buttons_with_header_and_footer"])
    if breakage == "unknown_top_level_key":
        body["texto"] = "oops"
    elif breakage == "four_buttons":
        body["interactive"]["action"]["buttons"].append(
            {"type": "reply", "reply": {"id": "x", "title": "Quarto"}}
        )
    elif breakage == "long_button_title":
        body["interactive"]["action"]["buttons"][0]["reply"]["title"] = "T" * 21
    elif breakage == "missing_to":
        del body["to"]
    elif breakage == "bad_param":
        body = build_body(TO, BODIES["template_with_params"])
        body["template"]["components"][0]["parameters"][0] = {"type": "text"}  # no text

    assert schema_errors(body) != ""
