#!/usr/bin/env python3
"""Where a run's CPU went, by process and the chain of its parents.

Reads a Linux process accounting file (acct v3 records, as `accton`
writes them; Debian package `acct`) and prints the CPU seconds of the
processes that exited during the recording, grouped by command name and
those of its parents, e.g. "compile < go < testtools" apart from
"compile < go < make". This is how docs/benchmarks.md's fresh-machine
suite tables were measured:

    apt-get install -y acct
    touch /tmp/pacct && accton /tmp/pacct
    CI=true ./.ci/run            # in a clean clone, with empty caches
    accton off
    scripts/acct-report.py /tmp/pacct chain 6
    scripts/acct-report.py /tmp/pacct timeline

Processes still running at the end (database servers) are not recorded;
compare the total with /proc/stat's for the machine.
"""
import collections
import struct
import sys

RECORD = 64  # sizeof(struct acct_v3)
AHZ = 100


def comp_t(v):
    """Decodes a comp_t: 13-bit mantissa, 3-bit base-8 exponent."""
    return (v & 0x1FFF) << (3 * ((v >> 13) & 7))


def records(path):
    data = open(path, "rb").read()
    for i in range(0, len(data) - RECORD + 1, RECORD):
        r = data[i : i + RECORD]
        (_flag, version, _tty, _exit, _uid, _gid, pid, ppid, btime, etime,
         utime, stime) = struct.unpack("<BBHIIIIIIfHH", r[:36])
        if version != 3:
            sys.exit(f"{path}: record {i // RECORD} is acct v{version}, want v3")
        yield dict(pid=pid, ppid=ppid, start=btime, elapsed=etime / AHZ,
                   cpu=(comp_t(utime) + comp_t(stime)) / AHZ,
                   comm=r[48:64].split(b"\0")[0].decode(errors="replace"))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    recs = list(records(sys.argv[1]))
    mode = sys.argv[2] if len(sys.argv) > 2 else "chain"
    by_pid = collections.defaultdict(list)
    for r in recs:
        by_pid[r["pid"]].append(r)

    def parent(r):
        # PIDs are reused: the parent is the process of that PID alive
        # when r started (start times have one-second resolution).
        found = None
        for p in by_pid.get(r["ppid"], []):
            if p["start"] <= r["start"] + 1 and p["start"] + p["elapsed"] >= r["start"] - 1:
                found = p
        return found

    if mode == "chain":
        depth = int(sys.argv[3]) if len(sys.argv) > 3 else 4
        cpu = collections.Counter()
        for r in recs:
            names, p = [], r
            while p and len(names) < depth:
                names.append(p["comm"])
                p = parent(p)
            cpu[" < ".join(names)] += r["cpu"]
        for key, secs in cpu.most_common(40):
            print(f"{secs:7.1f}  {key}")
        print(f"{sum(cpu.values()):7.1f}  all recorded processes")
    elif mode == "timeline":
        t0 = min(r["start"] for r in recs)
        minutes = collections.defaultdict(collections.Counter)
        for r in recs:  # a process counts in the minute it started
            minutes[int((r["start"] - t0) // 60)][r["comm"]] += r["cpu"]
        for m in sorted(minutes):
            top = ", ".join(f"{k} {v:.0f}" for k, v in minutes[m].most_common(6))
            print(f"{m:4d} min {sum(minutes[m].values()):6.1f}  {top}")
    else:
        sys.exit(f"unknown mode {mode!r} (chain [depth] or timeline)")


if __name__ == "__main__":
    main()
