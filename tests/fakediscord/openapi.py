"""Check HTTP traffic against Discord's published OpenAPI document.

The fake server answers whatever discord.py sends, so on its own it would happily
accept a payload the real Discord rejects with ``400 Invalid Form Body``. This
module closes that gap: every JSON body the fake receives is validated against
the request schema Discord publishes for that route, and (as a check on the
fake itself) every JSON body the fake sends back is validated against the
documented response schema.

The document is large (about 1 MB), so it is parsed once per process and each
operation's validator is built once and cached.  ``$ref`` pointers such as
``#/components/schemas/MessageCreateRequest`` are resolved lazily through a
``referencing.Registry`` that holds the whole document under one URI.

The document is vendored beside this module (``discord-openapi.json``, MIT, licence in
``discord-openapi.LICENSE``) so the tests need nothing outside the repository; the
``DISCORD_OPENAPI_SPEC`` environment variable points them at another copy, for example a newer
one being tried before it replaces the vendored file.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

DEFAULT_SPEC_PATH = Path(__file__).with_name("discord-openapi.json")
SPEC_ENV_VAR = "DISCORD_OPENAPI_SPEC"
_SPEC_URI = "urn:discord:openapi"
_SNOWFLAKE_PATTERN = "^(0|[1-9][0-9]*)$"

#: Where the live API accepts more in *requests* than the document says, and discord.py
#: relies on it.  Snowflakes are typed as strings, but Discord accepts JSON integers in
#: request bodies, and discord.py sends them (``recipient_id``, ``message_reference``
#: ids, role ids ...).  Responses are still checked against the strict document.
REQUEST_SCHEMA_OVERRIDES: dict[str, Any] = {
    "SnowflakeType": {
        "anyOf": [
            {"type": "string", "pattern": _SNOWFLAKE_PATTERN},
            {"type": "integer", "minimum": 0},
        ]
    },
}
_HTTP_METHODS = frozenset({"get", "post", "put", "patch", "delete"})
_MAX_MESSAGE = 300


def spec_path() -> Path:
    """Where the OpenAPI document is read from (env override, else the shared copy)."""
    return Path(os.environ.get(SPEC_ENV_VAR, str(DEFAULT_SPEC_PATH)))


def _escape_pointer(token: str) -> str:
    """Escape one JSON-pointer token (RFC 6901), since paths contain ``/`` and ``~``."""
    return token.replace("~", "~0").replace("/", "~1")


@dataclass(frozen=True)
class OperationMatch:
    """A request path resolved to one documented operation."""

    template: str
    method: str
    operation_id: str
    path_params: Mapping[str, str]


@dataclass(frozen=True)
class _Template:
    """A compiled path template; ``literal_segments`` ranks specific over generic matches."""

    template: str
    pattern: re.Pattern[str]
    literal_segments: int


def _compile_template(template: str) -> _Template:
    parts: list[str] = []
    literals = 0
    for segment in template.strip("/").split("/"):
        name = re.fullmatch(r"\{(\w+)\}", segment)
        if name:
            parts.append(f"(?P<{name.group(1)}>[^/]+)")
        else:
            parts.append(re.escape(segment))
            literals += 1
    return _Template(template, re.compile("^/" + "/".join(parts) + "$"), literals)


@dataclass
class OpenAPIValidator:
    """Validates request and response bodies for Discord REST routes.

    Build it with :func:`load_validator` so the document is parsed only once.
    """

    document: Mapping[str, Any]
    _templates: list[_Template] = field(init=False)
    _registries: dict[bool, Registry[Any]] = field(init=False)
    _cache: dict[tuple[bool, str], Draft202012Validator] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._templates = [_compile_template(t) for t in self.document["paths"]]
        # Most specific first, so ``/messages/@original`` wins over ``/messages/{message_id}``.
        self._templates.sort(key=lambda t: -t.literal_segments)
        components = self.document["components"]
        lenient = {
            **self.document,
            "components": {
                **components,
                "schemas": {**components["schemas"], **REQUEST_SCHEMA_OVERRIDES},
            },
        }
        self._registries = {
            strict: Registry().with_resource(_SPEC_URI, DRAFT202012.create_resource(doc))
            for strict, doc in ((True, self.document), (False, lenient))
        }

    # -- routing ---------------------------------------------------------------------------

    def match(self, method: str, path: str) -> OperationMatch | None:
        """Find the documented operation for ``method path`` (path relative to ``/api/v10``)."""
        method = method.lower()
        path = "/" + path.strip("/")
        for candidate in self._templates:
            found = candidate.pattern.match(path)
            if not found:
                continue
            operation = self.document["paths"][candidate.template].get(method)
            if operation is None:
                continue
            return OperationMatch(
                template=candidate.template,
                method=method,
                operation_id=str(operation.get("operationId", "")),
                path_params=found.groupdict(),
            )
        return None

    def operations(self) -> set[tuple[str, str]]:
        """Every documented ``(METHOD, template)`` pair, for route-coverage checks."""
        return {
            (method.upper(), template)
            for template, item in self.document["paths"].items()
            for method in item
            if method in _HTTP_METHODS
        }

    # -- validation ------------------------------------------------------------------------

    def validate_request(self, method: str, path: str, body: Any) -> list[str]:
        """Return human-readable problems with ``body`` as sent to ``method path``.

        An undocumented route is itself reported, because Discord would answer it
        with 404/405 and the bot should not be relying on it.
        """
        found = self.match(method, path)
        if found is None:
            return [f"{method.upper()} {path}: no such operation in Discord's OpenAPI document"]
        problems = self._validate_path_params(found)
        pointer = self._request_pointer(found)
        if pointer is None:
            if body is not None:
                problems.append(f"{self._label(found)}: a body was sent but none is documented")
            return problems
        problems.extend(
            self._errors(self._validator(pointer), body, f"{self._label(found)} request")
        )
        return problems

    def validate_response(self, method: str, path: str, status: int, body: Any) -> list[str]:
        """Return problems with a response body the fake produced (checks the fake itself)."""
        found = self.match(method, path)
        if found is None:
            return []
        responses = self.document["paths"][found.template][found.method].get("responses", {})
        key = next(
            (k for k in (str(status), f"{str(status)[0]}XX", "default") if k in responses), None
        )
        if key is None:
            return [f"{self._label(found)}: status {status} is not a documented response"]
        declared = responses[key]
        ref = declared.get("$ref")
        if ref:  # shared responses such as ClientErrorResponse
            pointer_base = ref
            declared = self._resolve_local(ref)
        else:
            pointer_base = f"{self._operation_pointer(found)}/responses/{_escape_pointer(key)}"
        if "application/json" not in declared.get("content", {}):
            if body not in (None, b"", ""):
                return [f"{self._label(found)}: status {status} should have no body"]
            return []
        validator = self._validator(pointer_base + "/content/application~1json/schema", strict=True)
        return self._errors(validator, body, f"{self._label(found)} response {status}")

    # -- internals -------------------------------------------------------------------------

    @staticmethod
    def _label(found: OperationMatch) -> str:
        return f"{found.method.upper()} {found.template} ({found.operation_id})"

    @staticmethod
    def _operation_pointer(found: OperationMatch) -> str:
        return f"#/paths/{_escape_pointer(found.template)}/{found.method}"

    def _resolve_local(self, ref: str) -> Any:
        node: Any = self.document
        for token in ref.removeprefix("#/").split("/"):
            node = node[token.replace("~1", "/").replace("~0", "~")]
        return node

    def _request_pointer(self, found: OperationMatch) -> str | None:
        operation = self.document["paths"][found.template][found.method]
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            return None
        return f"{self._operation_pointer(found)}/requestBody/content/application~1json/schema"

    def _validate_path_params(self, found: OperationMatch) -> list[str]:
        item = self.document["paths"][found.template]
        declared = [*item.get("parameters", []), *item[found.method].get("parameters", [])]
        problems: list[str] = []
        for index, param in enumerate(declared):
            if param.get("in") != "path" or param.get("name") not in found.path_params:
                continue
            owner = "" if index < len(item.get("parameters", [])) else f"/{found.method}"
            local = index if not owner else index - len(item.get("parameters", []))
            pointer = f"#/paths/{_escape_pointer(found.template)}{owner}/parameters/{local}/schema"
            value = found.path_params[param["name"]]
            problems.extend(
                self._errors(
                    self._validator(pointer), value, f"{self._label(found)} path {param['name']}"
                )
            )
        return problems

    def _validator(self, pointer: str, *, strict: bool = False) -> Draft202012Validator:
        """One compiled validator per schema location and mode, built on first use.

        Requests use the lenient registry (see ``REQUEST_SCHEMA_OVERRIDES``), responses
        the document as published.
        """
        key = (strict, pointer)
        validator = self._cache.get(key)
        if validator is None:
            schema = {"$ref": f"{_SPEC_URI}{pointer}"}
            registry = self._registries[strict]
            validator = self._cache[key] = Draft202012Validator(schema, registry=registry)
        return validator

    @staticmethod
    def _errors(validator: Draft202012Validator, instance: Any, where: str) -> list[str]:
        return [
            f"{where}: {describe_error(error)}"
            for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.path))
        ]


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def describe_error(error: ValidationError) -> str:
    """One line per error; for ``oneOf``/``anyOf`` also the closest branch's complaint.

    jsonschema's top-level message for a failed union is just "is not valid under
    any of the given schemas", which does not say what to fix.
    """
    text = f"{error.json_path}: {_short(error.message)}"
    if error.context:
        branch = _closest_branch(error.context)
        leaves = [e for e in branch if not e.context]
        closest = leaves[0] if leaves else best_match(branch)
        if closest is not None:
            text += f" (closest: {describe_error(closest)})"
    return text


def _closest_branch(context: list[ValidationError]) -> list[ValidationError]:
    """Pick the union branch the payload was most likely meant for.

    Discord's unions are discriminated by a ``type`` field; a branch whose ``type``
    matched but failed elsewhere is far more informative than "type is not 8".
    """
    branches: dict[Any, list[ValidationError]] = {}
    for sub in context:
        branch = sub.relative_schema_path[0] if sub.relative_schema_path else None
        branches.setdefault(branch, []).append(sub)

    def discriminator_failed(errors: list[ValidationError]) -> bool:
        return any(list(e.relative_path) == ["type"] for e in errors)

    ranked = sorted(branches.values(), key=lambda errs: (discriminator_failed(errs), len(errs)))
    return ranked[0] if ranked else context


@functools.cache
def load_validator(path: Path | None = None) -> OpenAPIValidator:
    """Parse the document once per process and return the shared validator."""
    source = path or spec_path()
    if not source.is_file():
        raise FileNotFoundError(
            f"Discord OpenAPI document not found at {source}; set {SPEC_ENV_VAR} to its path"
        )
    with source.open(encoding="utf-8") as handle:
        document = json.load(handle)
    return OpenAPIValidator(document)
