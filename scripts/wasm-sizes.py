#!/usr/bin/env python3
"""Where the WASM's bytes go: code size by crate and the largest functions.

    python3 scripts/wasm-sizes.py [module.wasm] [top]

Reads the module wasm-bindgen links (before wasm-split and wasm-opt,
which drop the function names), default
target/front/wasm32-unknown-unknown/wasm-release/frontend.wasm. Sizes
are of function bodies in that module: the shipped chat.wasm is smaller
(optimised, split, brotli), but the shares are what a cut would win.
"""
import re
import sys
from collections import Counter


def leb(data, pos):
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def sections(data):
    if data[:4] != b"\0asm":
        sys.exit("not a WASM module")
    pos = 8
    while pos < len(data):
        kind = data[pos]
        size, pos = leb(data, pos + 1)
        yield kind, data[pos : pos + size]
        pos += size


def imported_functions(body):
    count, pos = leb(body, 0)
    functions = 0
    for _ in range(count):
        for _ in range(2):  # module and field names
            n, pos = leb(body, pos)
            pos += n
        kind = body[pos]
        pos += 1
        if kind == 0:  # function: a type index
            _, pos = leb(body, pos)
            functions += 1
        elif kind == 1:  # table: element type, limits
            pos += 1
            flags, pos = leb(body, pos)
            _, pos = leb(body, pos)
            if flags & 1:
                _, pos = leb(body, pos)
        elif kind == 2:  # memory: limits
            flags, pos = leb(body, pos)
            _, pos = leb(body, pos)
            if flags & 1:
                _, pos = leb(body, pos)
        elif kind == 3:  # global: type, mutability
            pos += 2
        else:
            sys.exit(f"unknown import kind {kind}")
    return functions


def body_sizes(body):
    count, pos = leb(body, 0)
    sizes = []
    for _ in range(count):
        size, pos = leb(body, pos)
        sizes.append(size)
        pos += size
    return sizes


def function_names(body):
    names = {}
    pos = 0
    while pos < len(body):
        sub = body[pos]
        size, pos = leb(body, pos + 1)
        if sub == 1:
            inner = body[pos : pos + size]
            count, p = leb(inner, 0)
            for _ in range(count):
                index, p = leb(inner, p)
                n, p = leb(inner, p)
                names[index] = inner[p : p + n].decode("utf-8", "replace")
                p += n
        pos += size
    return names


LEGACY_ESCAPES = {
    "$LT$": "<", "$GT$": ">", "$RF$": "&", "$BP$": "*", "$LP$": "(", "$RP$": ")",
    "$C$": ",", "$SP$": "@", "$u20$": " ", "$u27$": "'", "$u5b$": "[", "$u5d$": "]",
    "$u7b$": "{", "$u7d$": "}", "$u7e$": "~",
}


def demangle_legacy(name):
    """`_ZN4core3fmt5write17h…E` → `core::fmt::write`, escapes decoded."""
    if name.startswith("_ZN"):
        parts, pos = [], 3
        while pos < len(name) and name[pos].isdigit():
            m = re.match(r"\d+", name[pos:])
            n = int(m.group())
            pos += len(m.group())
            parts.append(name[pos : pos + n])
            pos += n
        if parts and re.fullmatch(r"h[0-9a-f]{16}", parts[-1]):
            parts.pop()
        name = "::".join(parts)
    for code, text in LEGACY_ESCAPES.items():
        name = name.replace(code, text)
    name = name.replace("..", "::").replace("::_<", "::<")
    return name[1:] if name.startswith("_<") else name


def crate_of(name):
    if name.startswith("_R"):
        # v0 mangling: the first crate root, `C[s<disambiguator>_]<len><name>`.
        m = re.search(r"C(?:s[0-9A-Za-z]*_)?(\d+)", name)
        if m:
            start = m.end()
            return name[start : start + int(m.group(1))]
        return "?"
    name = demangle_legacy(name)
    if name.startswith("<"):
        # `<Type as Trait>::f`: the type's crate, or the trait's when the
        # type is a parameter, a tuple or a closure's.
        inner = name[1:]
        typ, _, rest = inner.partition(" as ")
        typ = typ.lstrip("&*").removeprefix("mut ").removeprefix("dyn ").removeprefix("const ")
        head = re.split(r"::|<|\s", typ, maxsplit=1)[0]
        if re.fullmatch(r"[A-Z]|\(.*|", head) and rest:
            head = re.split(r"::|<|\s", rest, maxsplit=1)[0]
        return head or "?"
    return re.split(r"::|<|\s", name, maxsplit=1)[0] or "?"


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "target/front/wasm32-unknown-unknown/wasm-release/frontend.wasm"
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    data = open(path, "rb").read()
    imports, sizes, names = 0, [], {}
    for kind, body in sections(data):
        if kind == 2:
            imports = imported_functions(body)
        elif kind == 10:
            sizes = body_sizes(body)
        elif kind == 0:
            n, p = leb(body, 0)
            if body[p : p + n] == b"name":
                names = function_names(body[p + n :])
    if not names:
        sys.exit("no function names in this module (optimised already?)")
    by_crate, functions = Counter(), []
    for i, size in enumerate(sizes):
        name = names.get(imports + i, f"#{imports + i}")
        by_crate[crate_of(name)] += size
        functions.append((size, demangle_legacy(name)))
    total = sum(sizes)
    print(f"{path}: {len(sizes)} functions, {total:,} bytes of code")
    print("\nby crate:")
    for crate, size in by_crate.most_common(top):
        print(f"  {size:>9,}  {100 * size / total:5.1f} %  {crate}")
    print("\nlargest functions:")
    for size, name in sorted(functions, reverse=True)[:top]:
        print(f"  {size:>9,}  {name[:110]}")


if __name__ == "__main__":
    main()
