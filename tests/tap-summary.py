#!/usr/bin/python3
"""tap-summary.py: count the TAP output of pgtrade's test suites.

Usage: tap-summary.py MANIFEST

MANIFEST has one line per suite, fields separated by tabs:

    name    tap-file    exit-status    note

where tap-file holds the suite's standard output, exit-status is the
suite's exit status (empty when it never ran) and note, possibly empty,
says why a suite could not run ("did not build", "timed out").

Prints a line per suite, then the assertions that failed, then as the
very last line "N passed, N failed" (", N skipped" when any were).
Exits 0 only when nothing failed and at least one assertion ran; a run
in which no assertion ran counts as one failure.

Counting rules (TAP 12/13 as pgTAP and the C tests print it):
  * "ok" counts as passed, "not ok" as failed; a "# SKIP" directive
    makes either skipped; a "# TODO" "not ok" is an expected failure,
    counted with the skipped, never as failed.
  * Only top-level lines count: indented subtest lines are ignored.
  * A suite also counts as one failure of its own when it exited
    non-zero, never ran, printed "Bail out!", printed no plan or more
    than one, or ran a number of tests other than its plan says, or
    numbered them out of sequence.  "1..0 # SKIP why" is a skipped
    suite, not a failure.
"""

import re
import sys

PLAN_RE = re.compile(r"^1\.\.(\d+)\s*(?:#\s*(.*))?$")
TEST_RE = re.compile(
    r"^(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?(.*?)"
    r"(?:\s*(?<=\s)#\s*(todo|skip)\S*(?:\s+(.*))?)?\s*$",
    re.IGNORECASE)
BAIL_RE = re.compile(r"^Bail out!\s*(.*)$", re.IGNORECASE)


class Suite:
    """The counts and problems of one suite's TAP output."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.todo = 0
        self.failures = []      # descriptions of failed assertions
        self.problems = []      # why the suite itself failed
        self.skip_all = None    # reason of a "1..0 # SKIP" plan

    def parse(self, lines):
        """Count the TAP lines of the suite and note protocol problems."""
        plans = []
        seen = 0
        for line in lines:
            line = line.rstrip("\r\n")
            m = PLAN_RE.match(line)
            if m:
                plans.append(int(m.group(1)))
                if int(m.group(1)) == 0:
                    reason = re.sub(r"^skip\S*\s*", "", m.group(2) or "",
                                    flags=re.IGNORECASE)
                    self.skip_all = reason or "no tests"
                continue
            m = BAIL_RE.match(line)
            if m:
                self.problems.append("bailed out: %s" % m.group(1))
                continue
            m = TEST_RE.match(line)
            if not m:
                continue
            seen += 1
            if m.group(2) is not None and int(m.group(2)) != seen:
                self.problems.append("test %s out of sequence (expected %d)"
                                     % (m.group(2), seen))
            self.count(m, line)
        if not plans:
            self.problems.append("no plan")
        elif len(plans) > 1:
            self.problems.append("%d plans" % len(plans))
        elif plans[0] != seen:
            self.problems.append("planned %d tests but ran %d"
                                 % (plans[0], seen))

    def count(self, m, line):
        """Count one test line; m is its TEST_RE match."""
        ok = m.group(1).lower() == "ok"
        directive = (m.group(4) or "").lower()
        if directive == "skip":
            self.skipped += 1
        elif ok:
            self.passed += 1
        elif directive == "todo":
            self.todo += 1
        else:
            self.failed += 1
            self.failures.append(line)

    def check_exit(self, status, note):
        """Note a non-zero exit status, or a suite that never ran."""
        if note:
            self.problems.insert(0, note)
        if status == "":
            if not note:
                self.problems.insert(0, "did not run")
        elif status != "0":
            code = int(status)
            if code == 124:
                what = "timed out"
            elif code > 128:
                what = "killed by signal %d" % (code - 128)
            else:
                what = "exit status %d" % code
            self.problems.insert(0, what)

    def line(self):
        """Return the summary line of the suite."""
        text = "suite %s: %d passed, %d failed" % (
            self.name, self.passed, self.failed_total())
        extra = self.skipped + self.todo
        if extra:
            text += ", %d skipped" % extra
        if self.todo:
            text += " (%d todo)" % self.todo
        if self.skip_all is not None and not self.problems:
            text += " (skipped: %s)" % self.skip_all
        if self.problems:
            text += " [FAILED: %s]" % "; ".join(self.problems)
        return text

    def failed_total(self):
        """Return failed assertions plus one when the suite failed."""
        return self.failed + (1 if self.problems else 0)


def read_manifest(path):
    """Return the suites named by the manifest at path, counted."""
    suites = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for row in f:
            row = row.rstrip("\n")
            if not row:
                continue
            fields = (row.split("\t") + ["", "", "", ""])[:4]
            name, tap, status, note = fields
            suite = Suite(name)
            lines = []
            if tap:
                try:
                    with open(tap, encoding="utf-8",
                              errors="replace") as t:
                        lines = t.readlines()
                except OSError:
                    lines = []
            if status != "" or lines:
                suite.parse(lines)
            suite.check_exit(status, note)
            suites.append(suite)
    return suites


def main(argv):
    """Print the summary of the manifest in argv; return exit status."""
    if len(argv) != 1:
        sys.stderr.write("usage: tap-summary.py MANIFEST\n")
        return 2
    suites = read_manifest(argv[0])
    passed = sum(s.passed for s in suites)
    failed = sum(s.failed_total() for s in suites)
    skipped = sum(s.skipped + s.todo for s in suites)
    ran = passed + sum(s.failed for s in suites) + sum(s.todo for s in suites)
    for s in suites:
        print(s.line())
    for s in suites:
        for f in s.failures:
            print("failed: %s: %s" % (s.name, f))
    if ran == 0:
        # Nothing ran: that is a failure too, however it came about.
        print("no test ran")
        failed += 1
    final = "%d passed, %d failed" % (passed, failed)
    if skipped:
        final += ", %d skipped" % skipped
    print(final)
    sys.stdout.flush()
    return 0 if failed == 0 and ran > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
