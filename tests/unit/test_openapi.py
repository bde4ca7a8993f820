"""The OpenAPI document lists exactly the routes the gateway serves ("kept in step")."""
import json
import re

from gateway import openapi
from gateway.entrypoints import ApiRoute
from gateway.service import GatewayService
from ufop_common.errors import TABLE


def declared_routes():
    routes = set()
    for attr in vars(GatewayService).values():
        for entrypoint in getattr(attr, "nameko_entrypoints", ()):
            if isinstance(entrypoint, ApiRoute):
                url = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", entrypoint.url)
                for method in entrypoint.method.split(","):  # nameko allows "GET,POST"
                    routes.add((method.strip().upper(), url))
    return routes


def documented_routes():
    doc = json.loads(openapi.document_json())
    return {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}


def test_gateway_has_routes():
    assert ("GET", "/api/ufops/{name}") in declared_routes()
    assert len(declared_routes()) >= 14


def test_document_lists_exactly_the_declared_routes():
    assert documented_routes() == declared_routes()
    listed = [(m.upper(), p) for m, p, *_ in openapi.ROUTES]
    assert len(listed) == len(set(listed))  # no route twice


def test_document_is_openapi_3():
    doc = json.loads(openapi.document_json())
    assert doc["openapi"].startswith("3.")
    assert doc["info"]["title"] and doc["info"]["version"]
    error = doc["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "error", "message"}
    assert set(error["properties"]["error"]["enum"]) == set(TABLE)
    operation_ids = []
    for path, ops in doc["paths"].items():
        for name in re.findall(r"{([^}]+)}", path):
            for op in ops.values():
                assert any(p["in"] == "path" and p["name"] == name
                           for p in op["parameters"]), (path, name)
        for op in ops.values():
            operation_ids.append(op["operationId"])
            assert "default" in op["responses"]
            # the data plane answers what the instance wrote, any status
            assert "200" in op["responses"] or path.startswith("/ufop/"), path
    assert len(operation_ids) == len(set(operation_ids))


def test_every_api_route_but_the_document_is_signed():
    doc = json.loads(openapi.document_json())
    unsigned = {(m.upper(), p) for p, ops in doc["paths"].items() for m, op in ops.items()
                if "security" not in op and p.startswith("/api/")}
    assert unsigned == {("GET", "/api/openapi.json")}
