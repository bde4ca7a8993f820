"""The OpenAPI 3 document of every route the gateway serves (kept in step by a test)."""
import json
from functools import lru_cache

from ufop_common.errors import TABLE
from ufop_common.schemas import UfopCreate, UfopUpdate

NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
        "description": "the ufop's name"}
LIMIT = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                     "maximum": 1000, "default": 100}}
MARKER = {"name": "marker", "in": "query", "schema": {"type": "string"},
          "description": "the marker of the previous page"}

DETAIL = {"type": "object", "properties": {
    "name": {"type": "string"}, "owner": {"type": "string"}, "version": {"type": "string"},
    "aclMode": {"type": "string", "enum": ["PUBLIC", "PROTECTED", "PRIVATE"]},
    "description": {"type": "string"}, "createTime": {"type": "string"},
    "instanceNum": {"type": "integer"}, "maxInstanceNum": {"type": "integer"},
    "flavor": {"type": "string"}, "accessList": {"type": "array", "items": {"type": "string"}},
    "configuration": {"type": "string"}}}
SUMMARY = {"type": "object", "properties": {"name": {"type": "string"},
                                            "aclMode": {"type": "string"},
                                            "desc": {"type": "string"}}}
ACCOUNT = {"type": "object", "properties": {"uid": {"type": "string"},
                                            "accessKey": {"type": "string"},
                                            "secretKey": {"type": "string"}}}
EVENT = {"type": "object", "properties": {"time": {"type": "string"}, "type": {"type": "string"},
                                          "detail": {"type": "object"}}}
VERSION = {"type": "object", "properties": {
    "version": {"type": "string"}, "createAt": {"type": "string"}, "desc": {"type": "string"},
    "state": {"type": "string", "enum": ["building", "build success", "build failed"]}}}
INDEX = {"name": "index", "in": "path", "required": True, "schema": {"type": "integer"},
         "description": "the instance's index (from 1)"}
INSTANCE = {"type": "object", "properties": {
    "index": {"type": "integer"}, "version": {"type": "string"},
    "state": {"type": "string", "enum": ["Starting", "Running", "Stopped", "Failed"]}}}
INSTANCES = {"type": "array", "items": INSTANCE}
HEALTH = {"type": "object", "additionalProperties": {"type": "string"}}
ANY = {"type": "object"}

# (method, path, summary, signed, params, request schema, data schema)
ROUTES = [
    ("GET", "/healthz", "Liveness of each service", False, [], None, HEALTH),
    ("GET", "/api/openapi.json", "This document", False, [], None, None),
    ("GET", "/metrics", "Prometheus metrics of this gateway process", False, [], None, None),
    ("POST", "/api/accounts", "Create an account (admin)", True, [],
     {"type": "object", "properties": {"admin": {"type": "boolean"}}}, ACCOUNT),
    ("GET", "/api/accounts/me", "The signing account", True, [], None, ACCOUNT),
    ("POST", "/api/ufops", "Register a ufop", True, [], UfopCreate.model_json_schema(), DETAIL),
    ("GET", "/api/ufops", "List the ufops you can see", True, [LIMIT, MARKER], None,
     {"type": "array", "items": SUMMARY}),
    ("GET", "/api/ufops/{name}", "A ufop's detail", True, [NAME], None, DETAIL),
    ("PUT", "/api/ufops/{name}", "Change a ufop", True, [NAME],
     UfopUpdate.model_json_schema(), DETAIL),
    ("DELETE", "/api/ufops/{name}", "Delete a ufop, its versions, instances and logs", True,
     [NAME], None, None),
    ("POST", "/api/ufops/{name}/apply", "Put yourself on a ufop's access list", True, [NAME],
     None, None),
    ("POST", "/api/ufops/{name}/unapply", "Take yourself off a ufop's access list", True,
     [NAME], None, None),
    ("POST", "/api/images", "Upload an archive and build a version from it", True,
     [{"name": "ufop", "in": "query", "required": True, "schema": {"type": "string"}},
      {"name": "version", "in": "query", "required": True, "schema": {"type": "string"}},
      {"name": "desc", "in": "query", "schema": {"type": "string"}}],
     "archive", {"type": "object", "properties": {"ufop": {"type": "string"},
                                                 "version": {"type": "string"},
                                                 "state": {"type": "string"}}}),
    ("GET", "/api/ufops/{name}/versions", "A ufop's versions", True, [NAME], None,
     {"type": "array", "items": VERSION}),
    ("GET", "/api/ufops/{name}/versions/{version}/log", "A version's build output", True,
     [NAME, {"name": "version", "in": "path", "required": True, "schema": {"type": "string"}}],
     None, {"type": "object", "properties": {"log": {"type": "string"}}}),
    ("GET", "/api/ufops/{name}/instances", "A ufop's instances", True, [NAME], None,
     INSTANCES),
    ("POST", "/api/ufops/{name}/instances", "Add instances of the current version", True,
     [NAME], {"type": "object", "required": ["size"], "properties": {
         "size": {"type": "integer", "minimum": 1}, "version": {"type": "string"}}},
     INSTANCES),
    *[("POST", f"/api/ufops/{{name}}/instances/{{index}}/{action}", summary, True,
       [NAME, INDEX], None, INSTANCE) for action, summary in (
        ("start", "Start an instance"), ("stop", "Stop an instance"),
        ("reboot", "Restart an instance"),
        ("switch", "Move an instance to the current version, without a gap"))],
    ("DELETE", "/api/ufops/{name}/instances/{index}", "Delete an instance", True,
     [NAME, INDEX], None, None),
    ("GET", "/api/ufops/{name}/instances/{index}/log",
     "An instance's log (follow=true: NDJSON stream of new lines)", True,
     [NAME, INDEX, {"name": "tail", "in": "query", "schema": {"type": "integer", "default": 100}},
      {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
      {"name": "follow", "in": "query", "schema": {"type": "boolean"}}], None,
     {"type": "object", "properties": {"log": {"type": "string"}}}),
    *[(method, path, "Call the ufop on a file (the data plane): the body, or ?url=",
       "optional", [NAME] + ([{"name": "params", "in": "path", "required": True,
                               "schema": {"type": "string"}}] if "params" in path else [])
       + [{"name": "url", "in": "query", "schema": {"type": "string"}}],
       "file" if method == "POST" else None, "instance")
      for path in ("/ufop/{name}", "/ufop/{name}/{params}") for method in ("GET", "POST")],
    ("GET", "/api/ufops/{name}/events", "A ufop's audit trail, newest first", True,
     [NAME, LIMIT], None, {"type": "array", "items": EVENT}),
]


def _error_schema():
    return {"type": "object", "required": ["code", "error", "message"], "properties": {
        "code": {"type": "integer"}, "error": {"type": "string", "enum": sorted(TABLE)},
        "message": {"type": "string"}}}


def _operation(method, path, summary, signed, params, body, data):
    ok = {"type": "object", "properties": {"code": {"type": "integer", "enum": [200]}}}
    if data is not None:
        ok["properties"]["data"] = data
    op = {"summary": summary, "operationId": f"{method.lower()}_{path}",
          "parameters": params,
          "responses": {"200": {"description": "success",
                                "content": {"application/json": {"schema": ok}}},
                        "default": {"description": "an error of SPEC §2",
                                    "content": {"application/json": {
                                        "schema": {"$ref": "#/components/schemas/Error"}}}}}}
    if data == "instance":
        op["responses"] = {"default": {
            "description": "the instance's answer: its status, headers and body as it wrote "
                           "them; or, from the gateway, an error of SPEC §2: 401/403/404 (access, "
                           "§3), 413 body over UFOP_MAX_INVOKE_BYTES, 502 BadGateway (the instance "
                           "went away during a call with a body), 503 NoInstance, 504 "
                           "UpstreamTimeout (UFOP_INVOKE_TIMEOUT)",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}},
                        "*/*": {}}}}
    if signed == "optional":  # PUBLIC ufops are called unsigned
        op["security"] = [{}, {"qiniu": []}]
    elif signed:
        op["security"] = [{"qiniu": []}]
    if body == "file":
        op["requestBody"] = {"required": False, "content": {
            "*/*": {"schema": {"type": "string", "format": "binary"}}}}
    elif body == "archive":
        binary = {"schema": {"type": "string", "format": "binary"}}
        op["requestBody"] = {"required": True, "content": {
            "application/octet-stream": binary, "application/x-tar": binary,
            "application/gzip": binary}}
    elif body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": body}}}
    return op


@lru_cache(maxsize=1)
def document_json():
    paths = {}
    for method, path, *rest in ROUTES:
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, *rest)
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "UFOP platform", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": {"Error": _error_schema()},
            "securitySchemes": {"qiniu": {
                "type": "apiKey", "in": "header", "name": "Authorization",
                "description": "Qiniu <AK>:<sign> or QBox <AK>:<sign> (SPEC §3)"}},
        },
    }
    return json.dumps(doc)
