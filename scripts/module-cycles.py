#!/usr/bin/env python3
"""Lists import cycles among a crate's own modules.

Every `crate::a::b` (and `super::`) path in a file is an edge from the
file's module to the deepest module that path names; test modules
(`#[cfg(test)] mod tests`, `contract.rs`, `tests.rs`) are left out, since
only the shipped code has layers. Prints each strongly connected group of
two or more modules, and the edges between top-level folders; exits 1 if
there is a cycle. Usage: scripts/module-cycles.py server/src [app/src]
"""
import os, re, sys

def modules(root):
    mods = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            if not f.endswith('.rs'):
                continue
            path = os.path.join(dirpath, f)
            rel = os.path.relpath(path, root)[:-3].split(os.sep)
            if rel[-1] in ('mod', 'lib', 'main'):
                rel = rel[:-1]
            if rel and rel[-1] in ('tests', 'contract', 'fuzzing'):
                continue
            mods[tuple(rel)] = path
    return mods

def strip_tests(text):
    # Drop `#[cfg(test)] mod x { ... }` blocks by brace matching.
    out, i = [], 0
    for m in re.finditer(r'#\[cfg\((?:all\()?test[^\]]*\]\s*(?:pub\s+)?mod\s+\w+\s*\{', text):
        if m.start() < i:
            continue
        out.append(text[i:m.start()])
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {'{': 1, '}': -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return ''.join(out)

def resolve(mods, base):
    while base and tuple(base) not in mods:
        base = base[:-1]
    return tuple(base)

def edges(mods):
    graph = {m: set() for m in mods}
    for mod, path in mods.items():
        text = strip_tests(open(path).read())
        text = re.sub(r'//.*', '', text)
        is_dir = os.path.basename(path) in ('mod.rs', 'lib.rs', 'main.rs')
        here = list(mod) if is_dir else list(mod[:-1])
        for m in re.finditer(r'\b(crate|super)((?:::\w+)+)', text):
            parts = m.group(2).split('::')[1:]
            if m.group(1) == 'crate':
                base = []
            else:
                base = list(here)
                while parts and parts[0] == 'super':
                    parts = parts[1:]
                    base = base[:-1]
                base = base[:-1] if not is_dir else base[:-1] if False else base
                # `super` from a file means its folder; from mod.rs its parent.
                base = list(here) if not is_dir else list(mod[:-1])
                n = m.group(2).split('::')[1:].count('super') - 1
                base = base[:len(base) - n] if n else base
            target = resolve(mods, base + [p for p in parts if re.match(r'^[a-z_][a-z0-9_]*$', p)])
            if target != mod and target and not mod[:len(target)] == target:
                graph[mod].add(target)
    return graph

def sccs(graph):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            out.append(comp)
    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out

bad = False
for root in sys.argv[1:]:
    mods = modules(root)
    graph = edges(mods)
    cycles = [c for c in sccs(graph) if len(c) > 1]
    name = lambda m: '::'.join(m) or '(root)'
    for c in cycles:
        bad = True
        print(f'{root}: cycle among ' + ', '.join(sorted(name(m) for m in c)))
        for m in sorted(c):
            print(f'    {name(m)} -> ' + ', '.join(sorted(name(t) for t in graph[m] if t in c)))
    top = {}
    for m, ts in graph.items():
        for t in ts:
            if m and t and m[0] != t[0]:
                top.setdefault(m[0], set()).add(t[0])
    print(f'{root}: folders and what they import')
    for m in sorted(top):
        print(f'    {m} -> ' + ', '.join(sorted(top[m])))
    if not cycles:
        print(f'{root}: no import cycles among {len(mods)} modules')
sys.exit(1 if bad else 0)
