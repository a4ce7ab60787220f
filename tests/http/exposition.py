"""A strict reader of the Prometheus text exposition format 0.0.4, for the tests.

parse(text) -> (types, samples): types maps a family name to its TYPE; samples is a list of
(name, labels dict, float value). Raises AssertionError on any line the format does not allow.
"""

import math
import re

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE_RE = re.compile(r"^(%s)(?:\{(.*)\})? (\S+)$" % NAME)
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')
SUFFIXES = ("_bucket", "_sum", "_count")


def _labels(text):
    labels = {}
    pos = 0
    while pos < len(text):
        m = LABEL_RE.match(text, pos)
        assert m, "bad label set %r" % text
        value = m.group(2).replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        assert m.group(1) not in labels, "duplicate label in %r" % text
        labels[m.group(1)] = value
        pos = m.end()
    return labels


def family_of(name, types):
    if name in types:
        return name
    for suffix in SUFFIXES:
        if name.endswith(suffix) and name[: -len(suffix)] in types:
            return name[: -len(suffix)]
    return None


def parse(text):
    assert text.endswith("\n"), "the exposition must end with a line feed"
    types, samples, seen_families = {}, [], []
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert name not in types, "TYPE twice for %s" % name
            types[name] = kind
            seen_families.append(name)
            continue
        assert not line.startswith("#"), "unexpected comment %r" % line
        m = SAMPLE_RE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels, value = m.group(1), _labels(m.group(2) or ""), m.group(3)
        fam = family_of(name, types)
        assert fam is not None, "sample %s before its TYPE line" % name
        assert seen_families[-1] == fam, "samples of %s are not grouped with its TYPE line" % fam
        v = float(value.replace("+Inf", "inf").replace("-Inf", "-inf"))
        assert not math.isnan(v) or value == "NaN", line
        samples.append((name, labels, v))
    return types, samples


def value(samples, name, **labels):
    """The value of the one sample of `name` whose labels include `labels` (0 if none)."""
    found = [v for n, l, v in samples if n == name and all(l.get(k) == str(x) for k, x in labels.items())]
    assert len(found) <= 1, "%d samples of %s %r" % (len(found), name, labels)
    return found[0] if found else 0.0
