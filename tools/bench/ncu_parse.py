"""Sums Nsight Compute gpu__time_duration per kernel (name and grid) from an ncu --csv file."""
import csv, sys, collections
rows = list(csv.reader(open(sys.argv[1])))
# find header
hi = next(i for i, r in enumerate(rows) if "Kernel Name" in r)
h = rows[hi]; data = rows[hi + 1:]
ki, mi, vi, ui = h.index("Kernel Name"), h.index("Metric Name"), h.index("Metric Value"), h.index("Metric Unit")
gi = h.index("Grid Size") if "Grid Size" in h else None
seq = []
for r in data:
    if len(r) <= vi or r[mi] != "gpu__time_duration.sum": continue
    v = float(r[vi].replace(",", ""))
    u = r[ui]
    v = v / 1000 if u == "nsecond" else v if u == "usecond" else v * 1000
    seq.append((r[ki][:40] + (" grid " + r[gi] if gi is not None else ""), v))
agg = collections.OrderedDict()
for k, v in seq:
    a = agg.setdefault(k, [0, 0.0]); a[0] += 1; a[1] += v
tot = sum(v for _, v in seq)
print(f"{len(seq)} kernels, {tot:.1f} us in all")
for k, (n, s) in sorted(agg.items(), key=lambda x: -x[1][1]):
    print(f"  {k:60s} {n:5d} x {s / n:7.2f} us = {s:8.1f} us ({100 * s / tot:4.1f}%)")
