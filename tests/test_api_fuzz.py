"""Property-based fuzzing from the OpenAPI document (schemathesis): no input makes a 5xx.

Beyond "no 5xx", every response must match what the document promises (status, media type,
body schema), and input the schema forbids must be refused.

The server runs in its own thread and event loop (a real uvicorn on 127.0.0.1), because
schemathesis sends its requests synchronously. Every operation is fuzzed with valid inputs and
with inputs that break the schema, writes included (with the token, so they reach validation).
Examples per operation are kept low so the whole file stays well under 20 s in CI.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.definitions import OPENAPI_31

from knowledge.api import ApiServer, ApiSettings
from knowledge.runtime import Knowledge

pytestmark = pytest.mark.slow  # processes or seconds-long runs; see `make test-fast`

TOKEN = "fuzz-token"
# Business rules (a source must exist, a heading must be one of eight) are not in the schema, so
# "valid data must be accepted" cannot hold; everything else schemathesis checks must.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
EXAMPLES = 20


@dataclass
class RunningApi:
    url: str
    document: dict[str, Any]


@pytest.fixture(scope="module")
def running_api(shipped_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    db = tmp_path_factory.mktemp("fuzz") / "crampbot.db"
    shutil.copyfile(shipped_db, db)
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def serve() -> None:
        knowledge = await Knowledge.open(db)
        try:
            settings_ = ApiSettings(
                _env_file=None,
                CRAMPBOT_API_PORT=0,
                CRAMPBOT_API_TOKEN=TOKEN,
                CRAMPBOT_API_MAX_BODY_BYTES=8192,
            )
            server = ApiServer(knowledge, settings_)
            await server.start()
            holder["server"] = server
            holder["loop"] = asyncio.get_running_loop()
            started.set()
            await server.serve()
        except BaseException as exc:
            holder["error"] = exc
            started.set()
            raise
        finally:
            await knowledge.close()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(30), "the API did not start"
    if "error" in holder:
        raise holder["error"]
    server: ApiServer = holder["server"]
    document = requests.get(f"{server.url}/openapi.json", timeout=10).json()
    try:
        yield RunningApi(server.url, document)
    finally:
        holder["loop"].call_soon_threadsafe(server.stop)
        thread.join(timeout=15)


def test_the_document_is_valid_openapi_3_1(running_api: RunningApi) -> None:
    import jsonschema  # noqa: PLC0415

    jsonschema.Draft202012Validator(OPENAPI_31).validate(running_api.document)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_input_makes_a_server_error(running_api: RunningApi, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_dict(running_api.document)
    session = requests.Session()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    fuzzed = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # Err has no .ok(); none here

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def call(case: Any) -> None:
            response = case.call(base_url=running_api.url, session=session, headers=auth)
            label = f"{case.method} {case.formatted_path} -> {response.status_code}"
            assert response.status_code < 500, f"{label}: {response.text[:500]}"
            if response.status_code == 413:
                # Too large a body is refused before validation: a correct rejection that
                # schemathesis's list of rejection statuses does not include.
                assert response.json()["error"]["status"] == 413, label
                return
            # And the document tells the truth: every status, media type and body it promises.
            case.validate_response(response, checks=CHECKS)
            if response.status_code >= 400:
                error = response.json()["error"]
                assert error["status"] == response.status_code, label
                assert error["message"], label

        spec = running_api.document["paths"][operation.path][operation.method.lower()]
        takes_input = bool(spec.get("parameters") or spec.get("requestBody"))
        try:
            call()
        except Unsatisfiable:
            # Nothing to break in an operation without inputs (/healthz); anything else is real.
            assert mode is GenerationMode.NEGATIVE and not takes_input, operation.label
        fuzzed += 1
    assert fuzzed == 16  # every operation in the document
