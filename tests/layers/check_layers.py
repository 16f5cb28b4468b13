#!/usr/bin/python3
"""The layer rule, read from the #include lines: a file of server/<layer>/ (or of its unit
tests, tests/unit/<layer>/) includes headers of its own layer or of the layers below, never
of a layer above. The layers, lowest first, are LAYERS; server/main.c sits above them all.
Generated schema headers (gen/) belong to the wire layer; h2o and nghttp2 to the network.
And the generated C names (Droplit__..., DROPLIT__..._INIT, google__protobuf__...) appear
only in server/wire/schema.h: everything else uses its short names, so a package rename
touches one file.

    check_layers.py [ROOT]      exit 0, or 1 listing every upward include
    check_layers.py --self-test adds an upward include to a copy of the tree and expects 1
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

LAYERS = ["base", "wire", "store", "domain", "ops", "net"]
MAIN = len(LAYERS)
# system headers that only one layer and those above it may use
LIBRARY_LAYER = {"h2o": "net", "nghttp2": "net", "droplit/": "wire", "google/protobuf/": "wire"}
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
GENERATED_NAME = re.compile(r'\b(?:[Dd]roplit__|DROPLIT__|[Gg]oogle__|GOOGLE__)\w+')


def header_layers(root):
    """Maps each project header's file name to the rank of the layer that holds it."""
    owner = {}
    for rank, layer in enumerate(LAYERS):
        folder = os.path.join(root, "server", layer)
        for name in sorted(os.listdir(folder)):
            if name.endswith(".h"):
                if name in owner:
                    raise SystemExit(f"check_layers: {name} is in two layers")
                owner[name] = rank
    return owner


def sources(root):
    """(path, rank) of every C file that the rule applies to."""
    for rank, layer in enumerate(LAYERS):
        for base in ("server", os.path.join("tests", "unit")):
            folder = os.path.join(root, base, layer)
            if os.path.isdir(folder):
                for name in sorted(os.listdir(folder)):
                    if name.endswith((".c", ".h")):
                        yield os.path.join(folder, name), rank
    yield os.path.join(root, "server", "main.c"), MAIN
    client = os.path.join(root, "client")
    if os.path.isdir(client):  # the SDK may use the wire layer and below
        for name in sorted(os.listdir(client)):
            if name.endswith((".c", ".h")):
                yield os.path.join(client, name), LAYERS.index("wire")


def library_rank(name):
    for prefix, layer in LIBRARY_LAYER.items():
        if name.startswith(prefix):
            return LAYERS.index(layer)
    return None


def check(root):
    owner = header_layers(root)
    problems = []
    for path, rank in sources(root):
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                quote, name = m.groups()
                target = owner.get(name) if quote == '"' else None
                if target is None:
                    target = library_rank(name)
                if target is not None and target > rank:
                    where = LAYERS[rank] if rank < MAIN else "main"
                    problems.append(f"{os.path.relpath(path, root)}:{n}: layer {where} includes {name} "
                                    f"of layer {LAYERS[target]}, which is above it")
        if os.path.basename(path) != "schema.h":
            with open(path, encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    m = GENERATED_NAME.search(line)
                    if m:
                        problems.append(f"{os.path.relpath(path, root)}:{n}: the generated name {m.group(0)} "
                                        f"belongs in server/wire/schema.h only")
    return problems


def self_test(root):
    """The check must fail when a base-layer file includes a header of a higher layer."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "tree")
        shutil.copytree(os.path.join(root, "server"), os.path.join(copy, "server"))
        shutil.copytree(os.path.join(root, "tests", "unit"), os.path.join(copy, "tests", "unit"))
        shutil.copytree(os.path.join(root, "client"), os.path.join(copy, "client"))
        if check(copy):
            print("self-test: the tree already breaks the rule", file=sys.stderr)
            return 1
        victim = os.path.join(copy, "server", "base", "error.c")
        with open(victim, "a", encoding="utf-8") as f:
            f.write('#include "core.h"\n')
        r = subprocess.run([sys.executable, __file__, copy], capture_output=True, text=True)
        if r.returncode != 1 or "server/base/error.c" not in r.stdout or "core.h" not in r.stdout:
            print(f"self-test: an upward include was not caught (exit {r.returncode}):\n{r.stdout}{r.stderr}",
                  file=sys.stderr)
            return 1
        with open(os.path.join(copy, "server", "store", "record.c"), "a", encoding="utf-8") as f:
            f.write("/* DROPLIT__WEBHOOKS__V1__WEBHOOK__INIT */\n")
        r = subprocess.run([sys.executable, __file__, copy], capture_output=True, text=True)
        if "server/store/record.c" not in r.stdout or "DROPLIT__WEBHOOKS__V1__WEBHOOK__INIT" not in r.stdout:
            print(f"self-test: a generated name outside schema.h was not caught:\n{r.stdout}", file=sys.stderr)
            return 1
    print("self-test: an include of domain/core.h from base/error.c is refused, "
          "and so is a generated name in store/record.c")
    return 0


def main():
    args = sys.argv[1:]
    here = os.path.dirname(os.path.abspath(__file__))
    default_root = os.path.normpath(os.path.join(here, "..", ".."))
    if args and args[0] == "--self-test":
        return self_test(default_root)
    root = args[0] if args else default_root
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} upward include(s); layers, lowest first: {' <- '.join(LAYERS)} <- main")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
