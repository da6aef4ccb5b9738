#!/usr/bin/env python3
"""deps.py - dependency cycles between the files of a folder (default
server/rooms).

Two graphs, file to file:
  includes  a.c/a.h -> b.h when a includes b (quoted includes in the folder)
  calls     a.c -> b.c when a calls a function that b defines (extern
            functions only; static ones stay inside their file)
A cycle is a strongly connected component of more than one file. Prints
each cycle of each graph; exits 1 if there is one (with --calls-warn, call
cycles are printed but only include cycles fail).
Usage: tools/deps.py [--calls-warn] [folder]"""
import os
import re
import sys

def strip(src):
    src = re.sub(r'/\*.*?\*/', ' ', src, flags=re.S)
    src = re.sub(r'//[^\n]*', ' ', src)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', src)

def sccs(graph):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]
    def visit(v):
        index[v] = low[v] = n[0]; n[0] += 1
        stack.append(v); on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))
    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out

def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    calls_warn = '--calls-warn' in sys.argv
    folder = args[0] if args else 'server/rooms'
    files = sorted(f for f in os.listdir(folder) if f.endswith(('.c', '.h')))
    src = {f: open(os.path.join(folder, f)).read() for f in files}
    inc = {f: {os.path.basename(m) for m in re.findall(r'#include\s+"([^"]+)"', s)
               if os.path.basename(m) in src and os.path.basename(m) != f} for f, s in src.items()}
    defs = {}
    for f in files:
        if f.endswith('.c'):
            for m in re.finditer(r'^(?!static\b)[A-Za-z_][\w \*]*?\b(\w+)\s*\([^;{]*\)\s*\{', strip(src[f]), re.M):
                defs[m.group(1)] = f
    calls = {}
    for f in files:
        if f.endswith('.c'):
            body = strip(src[f])
            calls[f] = {defs[c] for c in set(re.findall(r'\b(\w+)\s*\(', body)) if c in defs and defs[c] != f}
    bad = 0
    for name, graph, fatal in (('include', inc, True), ('call', calls, not calls_warn)):
        for comp in sccs(graph):
            print('%s cycle: %s' % (name, ' <-> '.join(comp)))
            bad |= fatal
    if not bad:
        print('no %scycles in %s' % ('include ' if calls_warn else '', folder))
    return bad

sys.exit(main())
