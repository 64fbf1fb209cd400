#!/usr/bin/env python3
"""The import graph of the host crate's modules, read from `crate::`,
`rollback_host::` and `super::` paths (comments and `mod tests` left out).

Prints the number of files and arrows, the circles among files and among
top-level folders (strongly connected components), and with -v each
folder's arrows. --dot FILE writes the folder graph for Graphviz; --check
exits 1 when there is any circle (make test runs it).

Usage: scripts/import-graph.py host/src [-v] [--dot FILE] [--check]"""
import os, re, sys, collections
root = sys.argv[1]  # e.g. host/src
mods = {}  # module path tuple -> file
for dp, dn, fn in os.walk(root):
    for f in fn:
        if not f.endswith('.rs'): continue
        p = os.path.join(dp, f); rel = os.path.relpath(p, root)[:-3].split(os.sep)
        if rel[-1] in ('mod', 'lib', 'main'): rel = rel[:-1]
        if rel and rel[0] == 'bin': continue
        mods[tuple(rel)] = os.path.relpath(p, root)
def resolve(path):
    path = tuple(path)
    while path and path not in mods: path = path[:-1]
    return path if path else None
edges = collections.defaultdict(set)
pat = re.compile(r'(?:crate|rollback_host)::((?:[a-z_][a-z0-9_]*::)*[a-z_][a-z0-9_]*)')
usegrp = re.compile(r'use (?:crate|rollback_host)::\{([^;]*)\};', re.S)
superpat = re.compile(r'\b((?:super::)+)((?:[a-z_][a-z0-9_]*::)*[a-z_][a-z0-9_]*)')
for m, f in mods.items():
    src = open(os.path.join(root, f)).read()
    # drop test modules to see production structure
    src = re.sub(r'#\[cfg\(test\)\]\s*mod tests\s*\{.*', '', src, flags=re.S)
    src = re.sub(r'//[^\n]*', '', src)  # comments and docs are not imports
    targets = set()
    for g in usegrp.findall(src):
        for part in re.split(r',(?![^{]*\})', g):
            part = part.strip()
            mm = re.match(r'([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)', part)
            if mm: targets.add(tuple(mm.group(1).split('::')))
    for x in pat.findall(src): targets.add(tuple(x.split('::')))
    base = m
    for sup, rest in superpat.findall(src):
        n = sup.count('super::'); b = base
        for _ in range(n): b = b[:-1]
        targets.add(b + tuple(rest.split('::')))
    for t in targets:
        r = resolve(t)
        if r is not None and r != m and not (len(r) < len(m) and m[:len(r)] == r and False):
            edges[m].add(r)
def scc(nodes, edges):
    idx = {}; low = {}; st = []; on = set(); out = []; c = [0]
    sys.setrecursionlimit(10000)
    def sc(v):
        idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
        for w in edges.get(v, ()):
            if w not in idx: sc(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], idx[w])
        if low[v] == idx[v]:
            comp = []
            while True:
                w = st.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: out.append(comp)
    for v in nodes:
        if v not in idx: sc(v)
    return out
name = lambda m: '::'.join(m) or 'crate'
print('files:', len(mods), 'edges:', sum(len(v) for v in edges.values()))
fc = scc(list(mods), edges)
print('file circles:', len(fc))
for c in fc: print('  ', ' <-> '.join(sorted(map(name, c))))
# folder level: top-level module
top = lambda m: m[0] if m else 'crate'
fe = collections.defaultdict(set)
for a, bs in edges.items():
    for b in bs:
        if top(a) != top(b): fe[top(a)].add(top(b))
fold = scc(sorted({top(m) for m in mods}), fe)
print('folder circles:', len(fold))
for c in fold: print('  ', ' <-> '.join(sorted(c)))
# inside one folder (sub-module circles)
if '-v' in sys.argv:
    for a in sorted(fe): print('  ', a, '->', ', '.join(sorted(fe[a])))
if '--check' in sys.argv and (fc or fold):
    print('import-graph: circles between modules (see docs/architecture.md)', file=sys.stderr)
    sys.exit(1)
if '--dot' in sys.argv:
    with open(sys.argv[sys.argv.index('--dot')+1], 'w') as o:
        o.write('digraph imports {\n rankdir=TB;\n')
        for a in sorted(fe):
            for b in sorted(fe[a]): o.write(f' "{a}" -> "{b}";\n')
        o.write('}\n')
