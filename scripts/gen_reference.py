#!/usr/bin/env python3
"""Generate docs/reference.md, the API reference, from the comments in
include/gogc.h: one section per banner comment of the header, and under
it every declaration (GOGC_API functions, types, macros, static inline
functions) with the comment just above it.

    scripts/gen_reference.py [--check]

--check: exit 1 if docs/reference.md is not what the header gives (CI).
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADER = os.path.join(ROOT, "include", "gogc.h")
OUT = os.path.join(ROOT, "docs", "reference.md")


def clean_comment(lines):
    text = []
    for l in lines:
        l = l.strip()
        l = re.sub(r"^/\*+\s?", "", l)
        l = re.sub(r"\s?\*+/$", "", l)
        l = re.sub(r"^\*\s?", "", l)
        if re.match(r"^-{5,}$", l):
            continue
        text.append(l)
    while text and not text[0]:
        text.pop(0)
    while text and not text[-1]:
        text.pop()
    return "\n".join(text)


def parse(src):
    lines = src.split("\n")
    sections = []  # (title, intro, [(decl, comment)])
    cur = ["Overview", "", []]
    comment, i = None, 0
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if s.startswith("/*"):
            block = [line]
            while "*/" not in lines[i]:
                i += 1
                block.append(lines[i])
            i += 1
            if len(block) > 1 and re.match(r"^/\*\s*-{10,}", block[0].strip()):
                body = clean_comment(block).split("\n")
                sections.append(cur)
                # The title is the first line up to " (", ". " or ":"; the
                # rest of the comment is the section's introduction.
                m = re.match(r"^(.*?)(?:\s\(|\.\s|:\s|\.$|$)(.*)$", body[0])
                title, rest = m.group(1), body[0][len(m.group(1)):].strip()
                if rest.startswith(". ") or rest.startswith(": "):
                    rest = rest[2:]
                intro = "\n".join(([rest] if rest and rest != "." else []) + body[1:]).strip()
                cur = [title, intro, []]
                comment = None
            elif not sections and not cur[2] and not cur[1]:
                cur[1] = clean_comment(block)  # the file's own comment: the overview
            else:
                comment = clean_comment(block)
            continue
        decl = None
        if s.startswith("GOGC_API") or s.startswith("typedef") or s.startswith("static inline") or \
                (s.startswith("#define GOGC_") and not s.startswith("#define GOGC_H")):
            decl = [line]
            opener = s.startswith("typedef struct") or s.startswith("typedef enum") or \
                s.startswith("static inline")
            if opener and "{" in s and not s.rstrip().endswith(";"):
                depth = s.count("{") - s.count("}")
                while depth > 0:
                    i += 1
                    decl.append(lines[i])
                    depth += lines[i].count("{") - lines[i].count("}")
                if s.startswith("static inline"):  # the signature only
                    decl = [line.rstrip(" {") + ";"]
            else:
                while not decl[-1].rstrip().endswith((";", ")")) and not decl[-1].lstrip().startswith("#") \
                        and i + 1 < len(lines):
                    i += 1
                    decl.append(lines[i])
                while decl[-1].rstrip().endswith("\\") and i + 1 < len(lines):
                    i += 1
                    decl.append(lines[i])
        if decl is not None:
            text = "\n".join(decl)
            # internals for inline code: gogc__name, or a name ending in _
            if "gogc__" not in text and not re.search(r"\b(gogc|GOGC)_\w*_\b", text):
                cur[2].append((text, comment or ""))
            comment = None
        elif s and not s.startswith("#") and not s.startswith("}") and not s.startswith("extern"):
            pass
        if not s:
            comment = comment  # a blank line keeps the comment for the next declaration
        i += 1
    sections.append(cur)
    return [sec for sec in sections if sec[2] or sec[1]]


def render(sections):
    out = ["# gogc API reference", "",
           "Generated from the comments in `include/gogc.h` by "
           "`scripts/gen_reference.py`; do not edit. The rules of use are in "
           "[api.md](api.md).", ""]
    for title, intro, decls in sections:
        out += ["## %s" % title, ""]
        if intro:
            out += [intro, ""]
        for decl, comment in decls:
            out += ["```c", decl.strip(), "```", ""]
            if comment:
                out += [comment, ""]
    return "\n".join(out).rstrip() + "\n"


def main():
    text = render(parse(open(HEADER).read()))
    if "--check" in sys.argv:
        cur = open(OUT).read() if os.path.exists(OUT) else ""
        if cur != text:
            print("docs/reference.md is out of date: run scripts/gen_reference.py", file=sys.stderr)
            return 1
        return 0
    with open(OUT, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
