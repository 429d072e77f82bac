#!/usr/bin/env python3
"""Layout checks run by scripts/check-src.sh (stdlib only, no build needed).

From the sources of common/, the daemons and cli/ it builds two file-level
graphs: who includes whom (local "dir/file.h" includes) and who calls whom
(a .c file that names a function or global defined, not static, in another
.c file). It fails on:
  - a circle of includes among local headers;
  - a circle of calls among .c files (files that call each other);
  - a common/ file (a header too: it would declare what some of its
    includers cannot link) that names a symbol defined only in a daemon
    directory;
  - a common/ .c file that fewer than two users (the three daemons and the
    mpic CLI) reach: common/ is for shared code.
Circles that are known are listed in KNOWN_CIRCLES with the reason; a
circle within one of them (the same files or fewer) passes. Only the base
layer's is left.
"""
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), ".."))
DIRS = ["common", "coordinator", "dcv-checker", "caa-checker", "cli"]
USERS = ["coordinator", "dcv-checker", "caa-checker", "cli"]

# Each entry: the files of one circle, and why it is tolerated.
KNOWN_CIRCLES = [
    ({"common/buf.c", "common/log.c", "common/mem.c"},
     "the base layer: allocation failure is fatal and logged, and the "
     "logger allocates"),
]

COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
STRING = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'')
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
IDENT = re.compile(r"\b[A-Za-z_]\w*\b")
# A definition at column 0: "type name(args)\n{" not starting with static.
FUNC_DEF = re.compile(
    r"^(?!static\b)(?!typedef\b)(?!extern\b)[A-Za-z_][\w \t\*]*?\b(\w+)\s*"
    r"\([^;{}]*\)\s*(?:__attribute__\s*\(\(.*?\)\)\s*)?\n\{", re.M)
# A global at column 0: "[const] type name[...] = ..." not static/extern.
VAR_DEF = re.compile(
    r"^(?!static\b)(?!extern\b)(?!typedef\b)(?:const\s+)?(?:struct\s+)?"
    r"[A-Za-z_]\w*(?:\s*\*\s*const)?[\s\*]+(?:const\s+)?(\w+)\s*(?:\[[^\]]*\])*"
    r"\s*=", re.M)


def sources():
    out = []
    for d in DIRS:
        base = os.path.join(ROOT, d)
        for name in sorted(os.listdir(base)):
            if name.endswith((".c", ".h")):
                out.append(d + "/" + name)
    return out


def read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8",
              errors="replace") as f:
        return f.read()


def strip(text):
    return STRING.sub('""', COMMENT.sub(" ", text))


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    files = sources()
    texts = {f: read(f) for f in files}
    problems = []

    # ---- includes
    inc = {}
    for f in files:
        inc[f] = {i for i in INCLUDE.findall(texts[f]) if i in texts}
    for comp in cycles({f: inc[f] for f in files if f.endswith(".h")}):
        problems.append("include circle: " + " -> ".join(sorted(comp)))
    for f in files:
        if f.startswith("common/"):
            for i in sorted(inc[f]):
                if not i.startswith("common/"):
                    problems.append("%s includes %s: common/ must not "
                                    "depend on a daemon" % (f, i))

    # ---- calls
    cfiles = [f for f in files if f.endswith(".c")]
    defined = {}  # symbol -> set of files
    for f in cfiles:
        body = COMMENT.sub(" ", texts[f])
        for rx in (FUNC_DEF, VAR_DEF):
            for name in rx.findall(body):
                if name != "main":
                    defined.setdefault(name, set()).add(f)
    calls = {f: set() for f in cfiles}
    for f in cfiles:
        for name in set(IDENT.findall(strip(texts[f]))):
            for g in defined.get(name, ()):
                if g != f:
                    calls[f].add(g)
    for comp in cycles(calls):
        known = [why for fs, why in KNOWN_CIRCLES if comp <= fs]
        line = "call circle: " + " <-> ".join(sorted(comp))
        if known:
            print("check-includes: known %s (%s)" % (line, known[0]))
        else:
            problems.append(line)
    for f in cfiles:
        if not f.startswith("common/"):
            continue
        for g in sorted(calls[f]):
            if not g.startswith("common/"):
                problems.append("%s calls into %s: common/ must not depend "
                                "on a daemon" % (f, g))

    for f in files:
        if not (f.startswith("common/") and f.endswith(".h")):
            continue
        for name in sorted(set(IDENT.findall(strip(texts[f])))):
            where = defined.get(name, set())
            if where and not any(g.startswith("common/") for g in where):
                problems.append("%s names %s, defined in %s only" %
                                (f, name, ", ".join(sorted(where))))

    # ---- common/ holds shared code only
    reach = {}
    for u in USERS:
        seen = set()
        todo = [f for f in cfiles if f.startswith(u + "/")]
        while todo:
            f = todo.pop()
            for g in calls[f]:
                if g not in seen:
                    seen.add(g)
                    todo.append(g)
        reach[u] = seen
    for f in cfiles:
        if not f.startswith("common/"):
            continue
        users = [u for u in USERS if f in reach[u]]
        if len(users) < 2:
            problems.append("%s is used by %s only: it belongs in that "
                            "directory, not common/" %
                            (f, users[0] if users else "nobody"))

    for p in problems:
        print("check-includes: " + p, file=sys.stderr)
    if not problems:
        print("check-includes: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
