#!/usr/bin/env python3
"""Checks the relative links of the project's Markdown: README.md and docs/*.md.

Every link `[text](path)` or `[text](path#anchor)` that is not a URL must name an existing
file, and its anchor must exist in the target Markdown file, either as `<a id="anchor">` or
as a heading (GitHub's slug: lower case, punctuation dropped, spaces to hyphens). The README's
speed and quality figures link to anchors of docs/BENCHMARKS.md (issue 10), so a report
regenerated without a section, or a renamed anchor, fails here.

    check_doc_links.py [--root DIR]      exit 0 when every link resolves, 1 otherwise
    check_doc_links.py --self-test       the checker against broken and valid examples
"""
import argparse
import os
import re
import sys
import tempfile

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
ANCHOR = re.compile(r"<a\s+id=\"([^\"]+)\"")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def slug(title):
    title = re.sub(r"`|\*|_(?=\w)|(?<=\w)_", "", title.strip().lower())
    title = re.sub(r"[^\w\- ]", "", title)
    return title.replace(" ", "-")


def anchors(path):
    found = set()
    counts = {}
    in_fence = False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if FENCE.match(line):
                in_fence = not in_fence
                continue
            if in_fence:
                continue
            found.update(ANCHOR.findall(line))
            m = HEADING.match(line)
            if m:
                s = slug(m.group(1))
                n = counts.get(s, 0)
                counts[s] = n + 1
                found.add(s if n == 0 else f"{s}-{n}")
    return found


def links(path):
    in_fence = False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if FENCE.match(line):
                in_fence = not in_fence
                continue
            if in_fence:
                continue
            for target in LINK.findall(line):
                yield number, target


def check(root, files):
    errors = []
    cache = {}
    for md in files:
        for number, target in links(md):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("//"):
                continue  # a URL or mailto:
            path, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(md), path)) if path else md
            where = f"{os.path.relpath(md, root)}:{number}: link '{target}'"
            if not os.path.exists(dest):
                errors.append(f"{where}: no such file {os.path.relpath(dest, root)}")
                continue
            if anchor and dest.endswith(".md"):
                if dest not in cache:
                    cache[dest] = anchors(dest)
                if anchor not in cache[dest]:
                    errors.append(f"{where}: no anchor '#{anchor}' in {os.path.relpath(dest, root)}")
    return errors


def markdown_files(root):
    files = [os.path.join(root, "README.md")]
    docs = os.path.join(root, "docs")
    for dirpath, _, names in os.walk(docs):
        files += [os.path.join(dirpath, n) for n in sorted(names) if n.endswith(".md")]
    return [f for f in files if os.path.isfile(f)]


def self_test():
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "docs"))
        with open(os.path.join(d, "docs", "B.md"), "w") as f:
            f.write('# Title\n<a id="fig"></a>\n## 1. Placement (SlimCaching)\n```\n# not a heading\n```\n')
        good = ("[a](docs/B.md) [b](docs/B.md#fig) [c](docs/B.md#1-placement-slimcaching) "
                "[d](https://example.invalid/x#y) [e](#top)\n<a id=\"top\"></a>\n")
        bad = {
            "[x](docs/B.md#missing)": "no anchor '#missing'",
            "[x](docs/C.md)": "no such file",
            "[x](docs/B.md#not-a-heading)": "no anchor",
        }
        with open(os.path.join(d, "README.md"), "w") as f:
            f.write(good)
        errs = check(d, markdown_files(d))
        assert errs == [], errs
        for text, expected in bad.items():
            with open(os.path.join(d, "README.md"), "w") as f:
                f.write(good + text + "\n")
            errs = check(d, markdown_files(d))
            assert len(errs) == 1 and expected in errs[0], (text, errs)
    print("check_doc_links self-test: ok")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    root = os.path.abspath(a.root)
    files = markdown_files(root)
    errors = check(root, files)
    for e in errors:
        print(e, file=sys.stderr)
    print(f"check_doc_links: {len(files)} files, {len(errors)} broken links")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
