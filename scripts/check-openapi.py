#!/usr/bin/python3
"""Checks docs/openapi.json, the OpenAPI 3.1 description of the HTTP contract (API.md).

Usage: /usr/bin/python3 scripts/check-openapi.py [path/to/openapi.json]

Always checked, whatever is installed:
  - the file is JSON, pretty-printed with a 2-space indent (as json.dump(indent=2) writes it);
  - every path of the contract is present with exactly its methods and status codes, and
    nothing else is;
  - every $ref is local and resolves; operationIds are present and unique; tags are declared;
    path templates and path parameters match;
  - every response has a description and an example for each media type, and every schema
    in components has examples; each example validates against its schema (python3-jsonschema,
    draft 2020-12, which is what OpenAPI 3.1 schemas are);
  - the service description states the limits; the document links nothing external.
When openapi-spec-validator is importable, the document is also validated against the
OpenAPI 3.1 meta-schema. Exits 1 listing every failure, 0 when all checks pass.
"""

import json
import os
import re
import sys

try:
    import jsonschema
except ImportError:
    sys.exit("check-openapi: python3-jsonschema is missing (run: bash scripts/install-deps.sh)")

# The contract: path -> method -> status codes it answers (API.md).
# Every /api operation may answer 401 (auth on); sends and a user's list 403 (acting as another
# user); sends 429 (rate limit).
STORE_LIST = {"200", "401", "404", "422", "503"}
SEND = {"201", "401", "403", "413", "422", "429", "503"}
EXPECTED = {
    "/api/messages/": {"post": SEND},
    "/api/messages": {"post": SEND},
    "/api/messages/conversation/{conversation_id}": {"get": STORE_LIST},
    "/api/messages/conversation/{conversation_id}/before": {"get": STORE_LIST},
    "/api/conversations/user/{user_id}": {"get": {"200", "401", "403", "422", "503"}},
    "/api/conversations/{conversation_id}": {"get": STORE_LIST},
    "/api/conversations/{conversation_id}/read": {"post": {"200", "401", "403", "404", "413", "422", "503"}},
    "/api/conversations/{conversation_id}/typing": {"post": {"202", "401", "403", "404", "422", "503"}},
    "/api/events": {"get": {"101", "200", "400", "401", "403", "422", "426", "503"}},
    "/": {"get": {"200"}},
    "/health": {"get": {"200"}},
    "/ready": {"get": {"200", "503"}},
    "/metrics": {"get": {"200", "404"}},
    "/openapi.json": {"get": {"200"}},
    "/docs": {"get": {"200"}},
    "/chat": {"get": {"200", "404"}},
    "/chat/{file}": {"get": {"200", "404"}},
}
EXPECTED_SCHEMAS = {"MessageCreate", "Message", "MessagePage", "Conversation", "ConversationPage",
                    "UserConversation", "ReadMarkCreate", "ReadMark",
                    "HTTPValidationError", "ValidationError", "ErrorDetail", "ServiceInfo", "Health", "Ready",
                    "Unavailable"}
# What the service description must state: the limits table and the transport-level answers.
DESCRIPTION_FACTS = ["64 KiB", "16 KiB", "4,096", "| 413", "| 431", "405", "Allow", "60 s", "10 s",
                     "X-Request-ID", "(ext)", "MESSENGER_CORS_ORIGINS", "Access-Control-Allow-Origin"]
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

failures = []


def fail(where, msg):
    failures.append("%s: %s" % (where, msg))


def walk(node, where=""):
    """Yields (json-pointer, dict) for every object in the document."""
    if isinstance(node, dict):
        yield where, node
        for k, v in node.items():
            yield from walk(v, "%s/%s" % (where, str(k).replace("~", "~0").replace("/", "~1")))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, "%s/%d" % (where, i))


def pointer_get(doc, ref):
    if not ref.startswith("#/"):
        raise KeyError("not a local reference")
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(part)]
        else:
            node = node[part]
    return node


def deref(doc, node):
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 16:
        node = pointer_get(doc, node["$ref"])
        seen += 1
    return node


def check_example(doc, where, schema, value):
    validator = jsonschema.Draft202012Validator(schema, resolver=jsonschema.RefResolver.from_schema(doc))
    for err in validator.iter_errors(value):
        fail(where, "example does not match its schema: %s at %s" % (err.message, list(err.absolute_path)))


def check_refs(doc):
    for where, obj in walk(doc):
        ref = obj.get("$ref")
        if isinstance(ref, str):
            try:
                pointer_get(doc, ref)
            except (KeyError, IndexError, ValueError, TypeError):
                fail(where, "$ref %r does not resolve" % ref)


def check_media(doc, where, content):
    if not content:
        fail(where, "no content")
        return
    for mtype, media in content.items():
        mwhere = "%s/content/%s" % (where, mtype)
        schema = media.get("schema")
        values = []
        if "example" in media:
            values.append(("example", media["example"]))
        for name, ex in (media.get("examples") or {}).items():
            ex = deref(doc, ex)
            if "value" not in ex:
                fail(mwhere, "example %r has no value" % name)
            else:
                values.append(("examples/" + name, ex["value"]))
        if not values:
            fail(mwhere, "no example")
        if schema is None:
            fail(mwhere, "no schema")
            continue
        for name, value in values:
            check_example(doc, "%s/%s" % (mwhere, name), schema, value)


def check_parameter(doc, where, param):
    schema = param.get("schema")
    if schema is None:
        fail(where, "parameter %r has no schema" % param.get("name"))
        return
    values = [("example", param["example"])] if "example" in param else []
    values += [("examples/" + k, deref(doc, v).get("value")) for k, v in (param.get("examples") or {}).items()]
    if not values:
        fail(where, "parameter %r has no example" % param.get("name"))
    for name, value in values:
        check_example(doc, "%s/%s" % (where, name), schema, value)


def check_operation(doc, path, method, op, expected_statuses, tags, operation_ids):
    where = "%s %s" % (method.upper(), path)
    op_id = op.get("operationId")
    if not op_id:
        fail(where, "no operationId")
    elif op_id in operation_ids:
        fail(where, "operationId %r is used twice" % op_id)
    operation_ids.add(op_id)
    for field in ("summary", "description"):
        if not op.get(field):
            fail(where, "no %s" % field)
    if not op.get("tags") or any(t not in tags for t in op["tags"]):
        fail(where, "tags %r are missing or undeclared" % op.get("tags"))

    params = [deref(doc, p) for p in op.get("parameters", [])]
    for p in params:
        check_parameter(doc, where, p)
    declared = {p["name"] for p in params if p.get("in") == "path"}
    templated = set(re.findall(r"{([^}]+)}", path))
    if declared != templated:
        fail(where, "path parameters %s do not match the template %s" % (sorted(declared), sorted(templated)))
    if any(p.get("in") == "path" and p.get("required") is not True for p in params):
        fail(where, "a path parameter is not required")

    if "requestBody" in op:
        check_media(doc, where + " requestBody", deref(doc, op["requestBody"]).get("content"))

    responses = op.get("responses") or {}
    if set(responses) != expected_statuses:
        fail(where, "status codes %s, expected %s" % (sorted(responses), sorted(expected_statuses)))
    for status, resp in responses.items():
        resp = deref(doc, resp)
        rwhere = "%s -> %s" % (where, status)
        if not resp.get("description"):
            fail(rwhere, "no description")
        if "X-Request-ID" not in (resp.get("headers") or {}):
            fail(rwhere, "does not document the X-Request-ID response header")
        check_media(doc, rwhere, resp.get("content"))


def check_security(doc, path, method, op):
    """/api operations accept the bearerAuth scheme (optional: auth is off unless configured);
    the service endpoints are always open."""
    where = "%s %s" % (method.upper(), path)
    security = op.get("security")
    if path.startswith("/api/"):
        if not isinstance(security, list) or {"bearerAuth": []} not in security:
            fail(where, "security does not list bearerAuth")
    elif security != []:
        fail(where, "a service endpoint must be open (security: [])")


def check_schemas(doc):
    schemas = doc.get("components", {}).get("schemas", {})
    missing = EXPECTED_SCHEMAS - set(schemas)
    if missing:
        fail("components/schemas", "missing %s" % sorted(missing))
    for name, schema in schemas.items():
        where = "components/schemas/" + name
        if not schema.get("examples"):
            fail(where, "no examples")
        # The schema's own examples and those of every nested subschema.
        for sub_where, sub in walk(schema, where):
            if isinstance(sub.get("examples"), list) and ("type" in sub or "$ref" in sub):
                for i, value in enumerate(sub["examples"]):
                    check_example(doc, "%s/examples/%d" % (sub_where, i), sub, value)


def check_document(doc, text):
    if text != json.dumps(doc, indent=2, ensure_ascii=False) + "\n":
        fail("file", "not pretty-printed with a 2-space indent (json.dump(indent=2, ensure_ascii=False) + newline)")
    if doc.get("openapi") != "3.1.0":
        fail("openapi", "must be 3.1.0, is %r" % doc.get("openapi"))
    info = doc.get("info", {})
    if info.get("title") != "messenger" or info.get("version") != "1.0.0":
        fail("info", "title/version must be messenger/1.0.0")
    description = info.get("description", "")
    for fact in DESCRIPTION_FACTS:
        if fact not in description:
            fail("info/description", "does not mention %r" % fact)
    if re.search(r"\b(?:https?|ftp)://", text):
        fail("file", "links something external")

    check_refs(doc)
    if failures:  # everything below follows references
        return
    tags = {t.get("name") for t in doc.get("tags", [])}
    if tags != {"messages", "conversations", "events", "service"}:
        fail("tags", "must be messages, conversations, events, service; are %s" % sorted(t for t in tags if t))

    paths = doc.get("paths", {})
    for path in sorted(set(paths) - set(EXPECTED)):
        fail(path, "not part of the contract")
    operation_ids = set()
    for path, methods in EXPECTED.items():
        item = paths.get(path)
        if item is None:
            fail(path, "missing")
            continue
        present = {m for m in item if m in METHODS}
        if present != set(methods):
            fail(path, "methods %s, expected %s" % (sorted(present), sorted(methods)))
        for method in sorted(present & set(methods)):
            check_operation(doc, path, method, item[method], methods[method], tags, operation_ids)
            check_security(doc, path, method, item[method])
    scheme = doc.get("components", {}).get("securitySchemes", {}).get("bearerAuth")
    if not scheme or scheme.get("type") != "http" or scheme.get("scheme") != "bearer":
        fail("components/securitySchemes", "bearerAuth must be an http bearer scheme (Swagger UI's Authorize)")
    check_schemas(doc)


def spec_validate(doc):
    """Meta-schema validation when openapi-spec-validator is installed; returns False when not."""
    try:
        from openapi_spec_validator import validate_spec
    except ImportError:
        return False
    try:
        validate_spec(doc)
    except Exception as e:  # the validator raises its own exception types across versions
        fail("openapi-spec-validator", str(e).splitlines()[0])
    return True


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "docs", "openapi.json")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        doc = json.loads(text)
    except (OSError, ValueError) as e:
        sys.exit("check-openapi: %s: %s" % (path, e))
    if not isinstance(doc, dict):
        sys.exit("check-openapi: %s: not a JSON object" % path)
    check_document(doc, text)
    validated = spec_validate(doc)
    if failures:
        for line in failures:
            print("check-openapi: " + line, file=sys.stderr)
        print("check-openapi: %d failure(s) in %s" % (len(failures), path), file=sys.stderr)
        return 1
    ops = sum(len(m) for m in EXPECTED.values())
    print("check-openapi: %s ok (%d paths, %d operations%s)" % (
        path, len(EXPECTED), ops, ", openapi-spec-validator" if validated else ", structural checks"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
