#!/usr/bin/python3
"""Generates hookgate's REST surface from the schema: OUT/droplit/rest_rules.h (the route
table the server's router uses) and OUT/openapi.json (the OpenAPI 3.1 document the server
serves at GET /openapi.json).

Each method of droplit.webhooks.v1.WebhookService declares its REST mapping once, in
proto/droplit/webhooks/v1/webhooks.proto:
  option (google.api.http) = {post: "/api/webhooks/{id}/recover" body: "*"};
      the verb, the path template (a {field} is a segment of the path), and where the rest
      of the request comes from: body "*" (every field not in the path), body "<field>"
      (that field is the body), or no body (every field not in the path is a query
      parameter, by its JSON name);
  option (droplit.api.rest) = {status: 201 idempotency_key: true};
      what google.api.http cannot say: the success status, an answer without a body or
      as text, the Idempotency-Key header (proto/droplit/api/rest.proto).

Run by proto/generate.sh as: proto/rest.py OUT DESCRIPTOR_SET PYTHON_DIR, where
DESCRIPTOR_SET is protoc's --descriptor_set_out of the schema (--include_imports
--include_source_info) and PYTHON_DIR holds protoc's --python_out of google/api/*.proto
and droplit/api/rest.proto. Deterministic: the same schema gives the same bytes (the test
gen_fresh compares them).
"""
import json
import os
import re
import sys

SERVICE = "droplit.webhooks.v1.WebhookService"
VERBS = ("get", "put", "post", "delete", "patch")
# The document's own title and the paths that are not the schema's: the operator's
# endpoints (no token, no /v0 alias), answered by the same server.
TITLE = "hookgate: Droplit's webhooks API"
OPS_PATHS = {
    "/healthz": ("Liveness: 200 \"ok\" while the process serves.", "text/plain", ("get", "head")),
    "/readyz": ("Readiness: 200 \"ready\", or 503 with the reason while the store cannot write.", "text/plain",
                ("get", "head")),
    "/metrics": ("Prometheus text exposition format (version 0.0.4).", "text/plain", ("get",)),
    "/openapi.json": ("This document.", "application/json", ("get",)),
}
MEDIA_JSON = "application/json"
MEDIA_PROTO = "application/x-protobuf"


def main():
    out, set_path, python_dir = sys.argv[1:4]
    sys.path.insert(0, python_dir)
    from google.protobuf import descriptor_pb2
    from google.api import annotations_pb2  # registers the google.api.http extension
    from droplit.api import rest_pb2  # registers droplit.api.rest

    fds = descriptor_pb2.FileDescriptorSet()
    with open(set_path, "rb") as f:
        fds.ParseFromString(f.read())
    schema = Schema(fds)
    rules = []
    for fd in fds.file:
        for si, service in enumerate(fd.service):
            if "%s.%s" % (fd.package, service.name) != SERVICE:
                continue
            for mi, method in enumerate(service.method):
                opts = method.options
                if not opts.HasExtension(annotations_pb2.http):
                    sys.exit("rest.py: %s.%s has no option (google.api.http)" % (SERVICE, method.name))
                http = opts.Extensions[annotations_pb2.http]
                rest = opts.Extensions[rest_pb2.rest] if opts.HasExtension(rest_pb2.rest) else rest_pb2.Rest()
                verb = http.WhichOneof("pattern")
                if verb not in VERBS:
                    sys.exit("rest.py: %s: unsupported pattern %s" % (method.name, verb))
                rules.append(Rule(schema, method, verb, getattr(http, verb), http.body, rest,
                                  schema.comment(fd.name, (6, si, 2, mi))))
    if not rules:
        sys.exit("rest.py: no method of %s found" % SERVICE)
    os.makedirs(os.path.join(out, "droplit"), exist_ok=True)
    with open(os.path.join(out, "droplit", "rest_rules.h"), "w") as f:
        f.write(rules_header(rules))
    with open(os.path.join(out, "openapi.json"), "w") as f:
        json.dump(openapi(schema, rules), f, indent=2, sort_keys=False)
        f.write("\n")


class Schema:
    """The messages of the descriptor set by full name, with their comments."""

    def __init__(self, fds):
        self.messages = {}
        self.files = {}
        self.comments = {}
        for fd in fds.file:
            for loc in fd.source_code_info.location:
                text = (loc.leading_comments or loc.trailing_comments).strip()
                if text:
                    self.comments[(fd.name, tuple(loc.path))] = " ".join(line.strip() for line in text.splitlines())
            for i, m in enumerate(fd.message_type):
                self._add(fd, "." + fd.package, m, (4, i))

    def _add(self, fd, scope, m, path):
        name = "%s.%s" % (scope, m.name)
        self.messages[name] = m
        self.files[name] = (fd.name, path)
        for i, nested in enumerate(m.nested_type):
            self._add(fd, name, nested, path + (3, i))

    def comment(self, file_name, path):
        return self.comments.get((file_name, tuple(path)), "")

    def message(self, type_name):
        return self.messages[type_name]

    def field_comment(self, type_name, index):
        file_name, path = self.files[type_name]
        return self.comment(file_name, path + (2, index))


def json_name(field):
    return field.json_name or re.sub(r"_([a-z])", lambda m: m.group(1).upper(), field.name)


class Rule:
    def __init__(self, schema, method, verb, template, body, rest, comment):
        self.method = method
        self.verb = verb
        self.template = template
        self.body = body
        self.rest = rest
        self.comment = comment
        self.input = method.input_type
        self.output = method.output_type
        self.path_fields = re.findall(r"\{([a-z_]+)\}", template)
        fields = {f.name: f for f in schema.message(self.input).field}
        for name in self.path_fields + ([body] if body not in ("", "*") else []):
            if name not in fields:
                sys.exit("rest.py: %s: %s is not a field of %s" % (method.name, name, self.input))
        if not re.fullmatch(r"(/[a-z]+)+(/\{[a-z_]+\}(/[a-z]+)?)?", template):
            # the router knows collections, items and an item's actions (server/wire/route.c)
            sys.exit("rest.py: %s: path %s is not /collection[/{field}[/action]]" % (method.name, template))
        self.query_fields = [] if body else [f for f in schema.message(self.input).field
                                             if f.name not in self.path_fields]
        self.status = rest.status or 200


def rules_header(rules):
    lines = [
        "/* Generated by proto/rest.py from the google.api.http and droplit.api.rest options of",
        " * %s in proto/: do not edit." % SERVICE,
        " *",
        " * REST_RULES: REST_RULE(verb, path template, method, body, success status, answer,",
        " * text field, takes Idempotency-Key) for each method, in the schema's order. body is \"*\"",
        " * (the request less its path fields), a field's name (that field), or \"\" (no body: the",
        " * fields not in the path are the query). answer is REST_ANSWER_MESSAGE (the response",
        " * message), REST_ANSWER_EMPTY (no body) or REST_ANSWER_TEXT (JSON callers get the response's",
        " * text field as text/plain). */",
        "#ifndef HOOKGATE_GEN_REST_RULES_H",
        "#define HOOKGATE_GEN_REST_RULES_H",
        "",
        "#define REST_RULES \\",
    ]
    for r in rules:
        answer = {0: "REST_ANSWER_MESSAGE", 1: "REST_ANSWER_EMPTY", 2: "REST_ANSWER_TEXT"}[r.rest.body]
        lines.append("    REST_RULE(\"%s\", \"%s\", \"%s\", \"%s\", %d, %s, \"%s\", %d) \\"
                     % (r.verb.upper(), r.template, r.method.name, r.body, r.status, answer, r.rest.text_field,
                        int(r.rest.idempotency_key)))
    lines[-1] = lines[-1][:-2]
    lines += ["", "#endif", ""]
    return "\n".join(lines)


# ---- OpenAPI 3.1 --------------------------------------------------------------------

def component_name(type_name):
    return type_name.rsplit(".", 1)[1]


def ref(type_name):
    return {"$ref": "#/components/schemas/%s" % component_name(type_name)}


UINT64 = {"type": "string", "pattern": "^[0-9]+$", "format": "uint64"}
INT64 = {"type": "string", "pattern": "^-?[0-9]+$", "format": "int64"}
WELL_KNOWN = {
    ".google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    ".google.protobuf.Struct": {"type": "object"},
    ".google.protobuf.Any": {"type": "object", "properties": {"@type": {"type": "string"}}, "required": ["@type"]},
}


def field_schema(field, wanted):
    from google.protobuf.descriptor_pb2 import FieldDescriptorProto as F
    t = field.type
    if t == F.TYPE_MESSAGE:
        if field.type_name in WELL_KNOWN:
            s = dict(WELL_KNOWN[field.type_name])
        else:
            wanted.append(field.type_name)
            s = ref(field.type_name)
    elif t == F.TYPE_STRING:
        s = {"type": "string"}
    elif t == F.TYPE_BOOL:
        s = {"type": "boolean"}
    elif t == F.TYPE_BYTES:
        s = {"type": "string", "contentEncoding": "base64"}
    elif t in (F.TYPE_UINT32, F.TYPE_FIXED32):
        s = {"type": "integer", "format": "uint32", "minimum": 0, "maximum": 4294967295}
    elif t in (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32):
        s = {"type": "integer", "format": "int32"}
    elif t in (F.TYPE_UINT64, F.TYPE_FIXED64):
        s = dict(UINT64)
    elif t in (F.TYPE_INT64, F.TYPE_SINT64, F.TYPE_SFIXED64):
        s = dict(INT64)
    elif t in (F.TYPE_DOUBLE, F.TYPE_FLOAT):
        s = {"type": "number"}
    else:
        sys.exit("rest.py: field %s: type %d has no JSON schema here" % (field.name, t))
    if field.label == F.LABEL_REPEATED:
        s = {"type": "array", "items": s}
    return s


def message_schema(schema, type_name, wanted, leave_out=()):
    m = schema.message(type_name)
    s = {"type": "object"}
    comment = schema.comment(*schema.files[type_name])
    if comment:
        s["description"] = comment
    props = {}
    for i, f in enumerate(m.field):
        if f.name in leave_out:
            continue
        p = field_schema(f, wanted)
        doc = schema.field_comment(type_name, i)
        if doc and "$ref" not in p:
            p["description"] = doc
        props[json_name(f)] = p
    s["properties"] = props
    return s


def content(schema_json, binary=True):
    c = {MEDIA_JSON: {"schema": schema_json}}
    if binary:
        c[MEDIA_PROTO] = {"schema": {"type": "string", "contentMediaType": MEDIA_PROTO,
                                     "description": "the same message in protobuf's binary form"}}
    return c


def error_responses():
    return {
        "400": {"description": "The request's parameters or body are invalid: each problem is named.",
                "content": content(ref(".droplit.webhooks.v1.ErrorResponse"))},
        "default": {
            "description": "Any other error (401, 403, 404, 409, 413, 422, 429, 502, 503, ...): the reason as "
                           "text; a binary (protobuf) caller gets an ErrorResponse.",
            "content": {"text/plain": {"schema": {"type": "string"}},
                        MEDIA_PROTO: {"schema": {"type": "string", "contentMediaType": MEDIA_PROTO}}}},
    }


def openapi(schema, rules):
    from droplit.api import rest_pb2
    wanted = [".droplit.webhooks.v1.ErrorResponse"]
    components = {}
    paths = {}
    for r in rules:
        path = r.template
        op = {"operationId": r.method.name, "tags": ["webhooks" if "webhooks" in path else "events"]}
        doc = r.comment or schema.comment(*schema.files[r.input])  # the request message says what the call is
        if doc:
            op["description"] = doc
        params = []
        in_fields = {f.name: (i, f) for i, f in enumerate(schema.message(r.input).field)}
        for name in r.path_fields:
            i, f = in_fields[name]
            params.append({"name": json_name(f), "in": "path", "required": True,
                           "schema": field_schema(f, wanted),
                           "description": schema.field_comment(r.input, i) or name})
        for f in r.query_fields:
            i, _ = in_fields[f.name]
            p = {"name": json_name(f), "in": "query", "schema": field_schema(f, wanted)}
            doc = schema.field_comment(r.input, i)
            if doc:
                p["description"] = doc
            params.append(p)
        if r.rest.idempotency_key:
            params.append({"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "minLength": 1, "maxLength": 255},  # VALIDATE_IDEMPOTENCY_KEY_MAX
                           "description": "A retried call with the same key and token is answered once: the first "
                                          "answer is replayed (Idempotent-Replayed: true)."})
        if params:
            op["parameters"] = params
        if r.body == "*" and r.path_fields:
            body_name = "%sBody" % r.method.name
            components[body_name] = message_schema(schema, r.input, wanted, leave_out=r.path_fields)
            op["requestBody"] = {"required": True, "content": content({"$ref": "#/components/schemas/" + body_name})}
        elif r.body == "*":
            wanted.append(r.input)
            op["requestBody"] = {"required": True, "content": content(ref(r.input))}
        elif r.body:
            _, f = in_fields[r.body]
            op["requestBody"] = {"required": True, "content": content(field_schema(f, wanted))}
        ok = {"description": "Success."}
        if r.rest.body == rest_pb2.Rest.MESSAGE:
            wanted.append(r.output)
            ok["content"] = content(ref(r.output))
        elif r.rest.body == rest_pb2.Rest.TEXT:
            wanted.append(r.output)
            ok["description"] = "Success: the response's %s as text; a binary caller gets the message." % r.rest.text_field
            ok["content"] = {"text/plain": {"schema": {"type": "string"}},
                             MEDIA_PROTO: {"schema": {"type": "string", "contentMediaType": MEDIA_PROTO}}}
        else:
            ok["description"] = "Success, with an empty body."
        if r.status == 201:
            ok["headers"] = {"Location": {"schema": {"type": "string"}, "description": "the new resource's path"}}
        op["responses"] = {str(r.status): ok}
        op["responses"].update(error_responses())
        paths.setdefault(path, {})[r.verb] = op
    # every message the operations name, and the ones those name
    done = set()
    while wanted:
        t = wanted.pop(0)
        if t in done or t in WELL_KNOWN:
            continue
        done.add(t)
        components[component_name(t)] = message_schema(schema, t, wanted)
    for path, (doc, media, verbs) in OPS_PATHS.items():
        body = {"type": "object"} if media == MEDIA_JSON else {"type": "string"}
        paths[path] = {"servers": [{"url": "/"}]}  # not under /v0
        for verb in verbs:
            paths[path][verb] = {
                "operationId": "%s_%s" % (verb, path.strip("/").replace(".", "_")), "tags": ["operations"],
                "security": [], "description": doc,
                "responses": {"200": {"description": "OK", "content": {media: {"schema": body}}}},
            }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": "1",
            "description": "Generated from hookgate's schema (proto/droplit/webhooks/v1/webhooks.proto) by "
                           "proto/rest.py. Every call also answers protobuf's binary form "
                           "(Content-Type or Accept application/x-protobuf), and the same methods are served "
                           "over gRPC, gRPC-Web and Connect at /%s/<Method>." % SERVICE,
        },
        "servers": [{"url": "/"}, {"url": "/v0", "description": "the same API under /v0"}],
        "security": [{"token": []}],
        "tags": [{"name": "webhooks"}, {"name": "events"}, {"name": "operations"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "authorization",
                          "description": "A token of the configuration's accounts (config: tokens), as the whole "
                                         "header value."},
            },
        },
    }


if __name__ == "__main__":
    main()
