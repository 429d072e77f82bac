#!/usr/bin/env python3
"""Coverage table and floors from a gcovr JSON report (scripts/coverage.sh).

    coverage_report.py GCOVR_JSON CONFIG [--branches] [--uncovered FILE]

Prints line (and with --branches, branch) coverage per directory, for each
decision-code group and for all decision code together, as CONFIG
(scripts/coverage.txt) defines them, and checks CONFIG's floors. Exit 0
when every floor holds, 1 when one fails (each failure named), 2 on a bad
CONFIG (an entry naming a file or function that does not exist).
--uncovered FILE writes every decision-code line never run and every
decision-code branch never taken, as file:line (function).
Standard library only.
"""

import json
import os
import sys

DIRS = ["common/", "coordinator/", "dcv-checker/", "caa-checker/", "cli/"]


class ConfigError(Exception):
    pass


def load_config(path):
    entries = []  # (group, basename, [functions]) in file order
    floors = {}  # name -> (lines%, branches%)
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            words = raw.split("#", 1)[0].split()
            if not words:
                continue
            where = "%s:%d" % (path, n)
            if words[0] == "decision" and len(words) >= 3:
                entries.append((words[1], words[2], words[3:], where))
            elif words[0] == "floor" and len(words) == 4:
                try:
                    floors[words[1]] = (float(words[2]), float(words[3]))
                except ValueError:
                    raise ConfigError("%s: floors are numbers: %s" %
                                      (where, raw.strip()))
            else:
                raise ConfigError("%s: not understood: %s" % (where, raw.strip()))
    return entries, floors


class Stats:
    def __init__(self):
        self.lines = set()  # (file, line) of executable lines
        self.lines_hit = set()
        self.branches = set()  # (file, line, i)
        self.branches_hit = set()

    def add_line(self, path, ln):
        key = (path, ln["line_number"])
        self.lines.add(key)
        if ln["count"] > 0:
            self.lines_hit.add(key)
        for i, b in enumerate(ln["branches"]):
            bkey = key + (i,)
            self.branches.add(bkey)
            if b["count"] > 0:
                self.branches_hit.add(bkey)

    def merge(self, other):
        self.lines |= other.lines
        self.lines_hit |= other.lines_hit
        self.branches |= other.branches
        self.branches_hit |= other.branches_hit


def pct(hit, total):
    return 100.0 * hit / total if total else 100.0


def function_ranges(fentry):
    """name -> (first line, first line of the next function or None)."""
    funcs = sorted((f["lineno"], f["name"]) for f in fentry["functions"])
    out = {}
    for i, (lineno, name) in enumerate(funcs):
        end = funcs[i + 1][0] if i + 1 < len(funcs) else None
        # a name twice (a static function in two objects): widest range
        if name in out:
            lo, hi = out[name]
            lineno = min(lo, lineno)
        out[name] = (lineno, end)
    return out


def code_lines(fentry):
    for ln in fentry["lines"]:
        if ln.get("gcovr/noncode") or ln.get("gcovr/excluded"):
            continue
        yield ln


def in_range(n, rng):
    lo, hi = rng
    return n >= lo and (hi is None or n < hi)


def main(argv):
    args = argv[1:]
    show_branches = "--branches" in args
    args = [a for a in args if a != "--branches"]
    uncovered_path = None
    if "--uncovered" in args:
        i = args.index("--uncovered")
        uncovered_path = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as f:
        report = json.load(f)
    try:
        entries, floors = load_config(args[1])
    except ConfigError as e:
        print("coverage: %s" % e, file=sys.stderr)
        return 2

    files = {}
    for fe in report["files"]:
        path = fe["file"].replace(os.sep, "/")
        files[path] = fe
    by_base = {}
    for path in files:
        by_base.setdefault(os.path.basename(path), []).append(path)

    # Per directory and total.
    dirs = {d: Stats() for d in DIRS}
    total = Stats()
    for path, fe in files.items():
        for ln in code_lines(fe):
            total.add_line(path, ln)
            for d in DIRS:
                if path.startswith(d):
                    dirs[d].add_line(path, ln)

    # Decision groups. Functions named anywhere, per file, so that an entry
    # without functions takes the rest of its file.
    defined = {}  # function name -> paths defining it
    for path, fe in files.items():
        for f in fe["functions"]:
            defined.setdefault(f["name"], set()).add(path)
    named = {}
    resolved = []
    errors = []
    for group, base, funcs, where in entries:
        paths = by_base.get(base, [])
        if len(paths) > 1:
            errors.append("%s: %s is ambiguous: %s" %
                          (where, base, ", ".join(sorted(paths))))
            continue
        if not funcs:
            if not paths:
                errors.append("%s: %s: no coverage data (no such file, or "
                              "never built)" % (where, base))
                continue
            resolved.append((group, paths[0], []))
            continue
        # A function moved to another file is followed there (when its
        # name is defined once), with a note to update this entry.
        by_path = {}
        for fn in funcs:
            path = paths[0] if paths else None
            if path is None or fn not in function_ranges(files[path]):
                where_else = defined.get(fn, set())
                if len(where_else) != 1:
                    errors.append("%s: %s has no function %s%s" % (
                        where, base, fn, "" if not where_else else
                        " (defined in " + ", ".join(sorted(where_else)) +
                        ")"))
                    continue
                path = next(iter(where_else))
                print("coverage: note: %s: %s is in %s now, not %s "
                      "(update scripts/coverage.txt)" % (where, fn, path, base),
                      file=sys.stderr)
            by_path.setdefault(path, []).append(fn)
        for path, fns in by_path.items():
            named.setdefault(path, set()).update(fns)
            resolved.append((group, path, fns))
    if errors:
        for e in errors:
            print("coverage: %s" % e, file=sys.stderr)
        return 2

    groups = {}
    order = []
    owner = {}  # (path, line) -> function name, for the uncovered list
    decision = Stats()
    for group, path, funcs in resolved:
        fe = files[path]
        ranges = function_ranges(fe)
        if funcs:
            picked = [ranges[fn] for fn in funcs]
        else:
            others = [ranges[fn] for fn in named.get(path, ()) if fn in ranges]
        st = groups.get(group)
        if st is None:
            st = groups[group] = Stats()
            order.append(group)
        for ln in code_lines(fe):
            n = ln["line_number"]
            if funcs:
                if not any(in_range(n, r) for r in picked):
                    continue
            elif any(in_range(n, r) for r in others):
                continue
            st.add_line(path, ln)
            decision.add_line(path, ln)
        for fn, rng in ranges.items():
            for ln in code_lines(fe):
                if in_range(ln["line_number"], rng):
                    owner[(path, ln["line_number"])] = fn

    rows = [(d, dirs[d]) for d in DIRS] + [("total", total)]
    drows = [(g, groups[g]) for g in order] + [("decision", decision)]
    failed = []

    def check(name, st):
        fl = floors.get(name)
        if fl is None:
            return ""
        lp = pct(len(st.lines_hit), len(st.lines))
        bp = pct(len(st.branches_hit), len(st.branches))
        marks = []
        if lp + 1e-9 < fl[0]:
            marks.append("LINES")
            failed.append("%s: lines at %.1f%%, below the floor of %.1f%%" %
                          (name, lp, fl[0]))
        if show_branches and bp + 1e-9 < fl[1]:
            marks.append("BRANCHES")
            failed.append("%s: branches at %.1f%%, below the floor of %.1f%%"
                          % (name, bp, fl[1]))
        floor = ("%5.1f %5.1f" % fl) if show_branches else ("%5.1f" % fl[0])
        return floor + ("  BELOW: " + ",".join(marks) if marks else "")

    def table(title, rows):
        head = "%-14s %17s" % (title, "lines")
        if show_branches:
            head += " %17s" % "branches"
        head += "  floor"
        print(head)
        for name, st in rows:
            line = "%-14s %6d/%-6d %5.1f%%" % (
                name, len(st.lines_hit), len(st.lines),
                pct(len(st.lines_hit), len(st.lines)))
            if show_branches:
                line += " %6d/%-6d %5.1f%%" % (
                    len(st.branches_hit), len(st.branches),
                    pct(len(st.branches_hit), len(st.branches)))
            print(line + "  " + check(name, st))

    table("directory", rows)
    print()
    table("decision code", drows)
    for name in floors:
        if name not in dict(rows) and name not in dict(drows):
            print("coverage: floor for unknown name %s" % name,
                  file=sys.stderr)
            return 2

    if uncovered_path:
        with open(uncovered_path, "w", encoding="utf-8") as out:
            out.write("# decision code never run (line) or branch never "
                      "taken (line, branch i of n)\n")
            nbr = {}
            for b in decision.branches:
                nbr[b[:2]] = nbr.get(b[:2], 0) + 1
            for key in sorted(decision.lines - decision.lines_hit):
                out.write("%s:%d (%s) line\n" % (key[0], key[1],
                                                 owner.get(key, "?")))
            if show_branches:
                for b in sorted(decision.branches - decision.branches_hit):
                    if b[:2] in decision.lines_hit:
                        out.write("%s:%d (%s) branch %d of %d\n" % (
                            b[0], b[1], owner.get(b[:2], "?"), b[2],
                            nbr[b[:2]]))
    if failed:
        print()
        for f in failed:
            print("coverage: FAIL %s (scripts/coverage.txt)" % f)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
