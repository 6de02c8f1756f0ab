#!/usr/bin/env python3
"""Prints the tables of docs/RESULTS.md's first section from the `train --json` outputs in this folder (or the folder given).

Each file is NAME-sS.json (S the seed). "vs DDP-AdamW" is the mean over the row's seeds of (row / DDP-AdamW of the same
seed - 1; DDP-Muon where a folder has no DDP-AdamW), so rows with fewer seeds are compared on those seeds only; "vs DDP, same inner optimizer" likewise against
DDP-Muon or DDP-AdamW; bytes are per replica, as `train` counts them.
"""
import glob, json, os, re, statistics, sys

folder = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
rows = {}
for path in sorted(glob.glob(os.path.join(folder, '*-s[0-9].json'))):
    name, seed = re.match(r'(.*)-s(\d+)\.json$', os.path.basename(path)).groups()
    rows.setdefault(name, {})[int(seed)] = json.load(open(path))
# The reference: DDP-AdamW, or DDP-Muon in a folder without it (results/tiny-b16, results/small-b16).
reference = 'ddp-adamw' if 'ddp-adamw' in rows else 'ddp-muon'
ddp = {s: r['val_loss'] for s, r in rows[reference].items()}
ddp_bytes = statistics.mean(r['bytes_sent_per_replica'] for r in rows[reference].values())
label = {'ddp-adamw': 'DDP-AdamW', 'ddp-muon': 'DDP-Muon'}[reference]
print(f'| run | s1 | s2 | s3 | mean ± std | vs {label} (same seeds) | vs DDP, same inner optimizer | bytes sent per replica | fewer than DDP |')
print('|---|---|---|---|---|---|---|---|---|')
for name, seeds in rows.items():
    losses = [seeds[s]['val_loss'] for s in sorted(seeds)]
    spread = f" ± {statistics.stdev(losses):.4f}" if len(losses) > 1 else ''
    paired = [seeds[s]['val_loss'] / ddp[s] - 1 for s in seeds if s in ddp]
    versus = f"{100 * statistics.mean(paired):+.1f}%" + (f" ({100 * min(paired):+.1f} to {100 * max(paired):+.1f})" if len(paired) > 1 else '')
    same = 'ddp-muon' if re.search(r'-(muon|muloco)', name) else 'ddp-adamw'
    alike = [seeds[s]['val_loss'] / rows[same][s]['val_loss'] - 1 for s in seeds if s in rows.get(same, {})]
    samecell = f"{100 * statistics.mean(alike):+.1f}%" if alike and not name.startswith('ddp-') and len(alike) == len(seeds) else ''
    sent = statistics.mean(r['bytes_sent_per_replica'] for r in seeds.values())
    cells = ' | '.join(f"{seeds[s]['val_loss']:.4f}" if s in seeds else '' for s in (1, 2, 3))
    print(f"| {name} | {cells} | {statistics.mean(losses):.4f}{spread} | {versus if name != reference else ''} | {samecell} | {sent / 1e6:,.1f} MB | {ddp_bytes / sent:.1f}x |")

# Paired comparisons the goals ask about: NoLoCo and SparseLoCo against DiLoCo, Muon against AdamW, and each variant (a name
# going on past its inner optimizer, e.g. ddp-adamw-torchinit) against its base row; same seeds only.
base = lambda n: re.sub(r'-(muon|muloco|adamw)-.*$', r'-\1', n)
twin = lambda n: n.replace('noloco-', 'diloco-', 1)   # the DiLoCo row of the same settings, else of the base settings
pairs = [(n, twin(n) if twin(n) in rows else twin(base(n))) for n in rows if n.startswith('noloco-')]
pairs += [(n, n.replace('sparseloco-', 'diloco-', 1).replace('-h50-', '-h50q4-')) for n in rows if n.startswith('sparseloco-')]
pairs += [('noloco-h35q4-muon', 'diloco-h50q4-muon')]   # NoLoCo at H = 35 sends about what DiLoCo sends at H = 50
pairs += [(n, n.replace('-muon', '-adamw')) for n in rows if n.endswith('-muon')]
pairs += [(n, n.replace('-muloco', '-muon')) for n in rows if n.endswith('-muloco')]   # MuLoCo's variant against the reference Muon
pairs += [(n, base(n)) for n in rows if base(n) != n]
print()
print('| run | against | seeds | difference per seed | mean |')
print('|---|---|---|---|---|')
for a, b in pairs:
    common = sorted(set(rows.get(a, {})) & set(rows.get(b, {})))
    if not common:
        continue
    diffs = [rows[a][s]['val_loss'] / rows[b][s]['val_loss'] - 1 for s in common]
    cells = ', '.join(f"s{s} {100 * d:+.1f}%" for s, d in zip(common, diffs))
    print(f"| {a} | {b} | {len(common)} | {cells} | {100 * statistics.mean(diffs):+.1f}% |")
