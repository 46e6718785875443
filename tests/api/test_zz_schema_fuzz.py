"""The API against its own OpenAPI document, fuzzed (bounded, so it runs in CI): no request
makes a 5xx, every answer (success or problem) conforms to the documented schema, status
code, content type and headers. Named ``zz`` so it runs after the end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.api.inprocess import ADMIN, city_app

EXAMPLES = 6  # per operation: ~35 operations in about 20 s
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    app, store, letters = city_app(tmp_path_factory.mktemp("fuzz"))
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    store.close()
    letters.close()


def test_no_server_error_and_every_answer_conforms(api_schema: schemathesis.BaseSchema) -> None:
    """Each GET operation with a few generated cases (derandomized: the same cases each run,
    so a failure reproduces); every failure is collected before the test fails."""
    failures: dict[str, str] = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if operation.method.upper() != "GET":
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(headers={"X-API-Key": ADMIN}, checks=CHECKS)

        try:
            fuzz()
        except Exception as error:  # collect every operation's failure, then report them all
            failures[operation.label] = str(error)[:2000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/v1/city/carbon?grid_g_per_kwh=1e309", "grid_g_per_kwh"),
        ("/api/v1/dead-letters?before_id=9223372036854775808", "before_id"),
        ("/api/v1/city/energy?start=9999-12-31T00:00:00Z", "start"),
        ("/api/v1/buildings/b-1/energy?every=99999999999999999999d", "every"),
    ],
)
def test_the_server_errors_fuzzing_found_are_problems_now(
    api_schema: schemathesis.BaseSchema, url: str, parameter: str
) -> None:
    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=api_schema.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            return await client.get(url, headers={"X-API-Key": ADMIN})

    response = asyncio.run(ask())
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["parameter"] == parameter
