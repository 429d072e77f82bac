#!/usr/bin/env python3
"""Dead references in the documentation trail (run by scripts/check-src.sh).

Every file path named in a comment of our C sources, headers, CMake files
and scripts, or in README.md and docs/*.md, must exist in the tree: a
path with a directory (common/ev.c, docs/failover.md) from the root or
from the naming file's directory, a bare name (fanout.c, STYLE.md)
anywhere in the tree. Every name in one of our prefixes (mpic_, coord_,
dcv_, caa_, ev_, http_request_, http_server_) named there must still be
in the code: a word of a C source (outside its comments) or of a build
file, script or test. Names that are not files of ours (other projects'
headers, placeholders in a usage line) are listed in EXTERNAL with why.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), ".."))

# Named on purpose although not ours: other projects' files.
EXTERNAL = {
    "curl.h": "libcurl's header",
    "typecheck-gcc.h": "libcurl's header",
    "microhttpd.h": "libmicrohttpd's header",
    "file.c": "cmake/embed.cmake's usage line",
    "dir/header.h": "cmake/embed.cmake's usage line",
    "mpic-openapi.json": "a file README.md's example writes",
}

PATH_RE = re.compile(r"(?<![\w./:*}<-])((?:[\w.-]+/)*[\w.-]*\w\."
                     r"(?:c|h|md|py|sh|yaml|json|cmake))(?![\w/-])")
# A placeholder, a glob or a template, not a file: test_<module>.c, X.md.
PLACEHOLDER_RE = re.compile(r"[*<>{}]|(^|/)(X|NAME|foo)\.")
NAME_RE = re.compile(r"(?<![\w.-])((?:mpic|coord|dcv|caa|ev|http_request|"
                     r"http_server)_[a-z]\w*)(?![\w*])")
C_COMMENT_RE = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def tracked():
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others",
                              "--exclude-standard"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        files = out.split()
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, dirs, names in os.walk(ROOT):
            dirs[:] = [x for x in dirs
                       if not x.startswith((".", "build"))]
            files += [os.path.relpath(os.path.join(d, n), ROOT)
                      for n in names]
    return [f for f in files if os.path.exists(os.path.join(ROOT, f))]


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def comments(path, text):
    """(offset, text) of each comment of a source file; all of a doc."""
    if path.endswith((".c", ".h")):
        return [(m.start(), m.group(0)) for m in C_COMMENT_RE.finditer(text)]
    if path.endswith((".md", ".1")):
        return [(0, text)]
    out = []
    pos = 0
    for line in text.splitlines(True):
        i = line.find("#")
        if i >= 0 and not line.startswith("#!"):
            out.append((pos + i, line[i:]))
        pos += len(line)
    return out


def main():
    files = tracked()
    names = set(files)
    basenames = {os.path.basename(f) for f in files}
    code_words = set()
    for f in files:
        if f.endswith((".c", ".h", ".py", ".sh", ".cmake", ".txt", ".yaml",
                       ".json")):
            with open(os.path.join(ROOT, f), encoding="utf-8",
                      errors="replace") as fh:
                code = fh.read()
            if f.endswith((".c", ".h")):
                code = C_COMMENT_RE.sub(" ", code)
            code_words.update(re.findall(r"\w+", code))

    def scanned(f):
        base = os.path.basename(f)
        if f.startswith("tests/fixtures/"):
            return False
        return (f.endswith((".c", ".h", ".sh", ".cmake")) or
                base == "CMakeLists.txt" or
                f == "README.md" or
                (f.startswith("docs/") and f.endswith(".md")))

    bad = []
    for f in filter(scanned, files):
        with open(os.path.join(ROOT, f), encoding="utf-8",
                  errors="replace") as fh:
            text = fh.read()
        here = os.path.dirname(f)
        for off, chunk in comments(f, text):
            for m in PATH_RE.finditer(chunk):
                ref = m.group(1).rstrip(".")
                if PLACEHOLDER_RE.search(ref) or ref in EXTERNAL:
                    continue
                if "/" in ref:
                    ok = (os.path.normpath(ref) in names or
                          os.path.normpath(os.path.join(here, ref)) in names
                          or os.path.isdir(os.path.join(ROOT, ref)))
                else:
                    ok = ref in basenames
                if not ok:
                    bad.append("%s:%d: no file %s" %
                               (f, line_of(text, off + m.start()), ref))
            for m in NAME_RE.finditer(chunk):
                name = m.group(1)
                if name not in code_words and name not in EXTERNAL:
                    bad.append("%s:%d: no %s in the code" %
                               (f, line_of(text, off + m.start()), name))
    for b in bad:
        print(b, file=sys.stderr)
    if bad:
        print("check-refs: %d dead reference%s" %
              (len(bad), "" if len(bad) == 1 else "s"), file=sys.stderr)
        return 1
    print("check-refs: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
