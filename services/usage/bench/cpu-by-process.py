#!/usr/bin/env python3
"""Where the CPU of usage's end-to-end benchmark goes, per process kind, per event.

Runs `npm run bench:usage` (or the command given after --), samples the CPU time of every
PostgreSQL, NATS and node process from /proc, and prints the CPU each kind spent during the
end-to-end phase (from the raw-publish line to the "end to end:" line) divided by its events.
On 2 cores, N events/s leave at most 2,000,000 / N microseconds of CPU per event for all of them.

Usage: python3 services/usage/bench/cpu-by-process.py [-- command ...]   (Linux only)
"""
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter

HZ = os.sysconf('SC_CLK_TCK')


def kind(pid: str) -> str | None:
    try:
        cmd = open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\0', b' ').decode(errors='replace')
    except OSError:
        return None
    if cmd.startswith('postgres') or '/postgres ' in cmd:
        return 'postgres'
    if 'nats-server' in cmd:
        return 'nats-server'
    if 'wallets/src/main.ts' in cmd:
        return 'wallets (node)'
    if 'usage.bench.ts' in cmd:
        return 'usage + publisher (node)'
    return None


class Sampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.first: dict[str, int] = {}
        self.last: dict[str, int] = {}
        self.kinds: dict[str, str] = {}
        self.snapshots: list[tuple[float, Counter]] = []
        self.running = True
        self.started = False

    def run(self) -> None:
        while self.running:
            for pid in os.listdir('/proc'):
                if not pid.isdigit():
                    continue
                if pid not in self.kinds:
                    k = kind(pid)
                    if k is None:
                        continue
                    self.kinds[pid] = k
                try:
                    fields = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
                except OSError:
                    continue
                ticks = int(fields[11]) + int(fields[12])
                # Processes running before the benchmark count from their first sample only.
                self.first.setdefault(pid, ticks if not self.started else 0)
                self.last[pid] = ticks
            self.started = True
            total = Counter()
            for pid, ticks in self.last.items():
                total[self.kinds[pid]] += (ticks - self.first[pid]) / HZ
            self.snapshots.append((time.time(), total))
            time.sleep(0.25)

    def at(self, t: float) -> Counter:
        best = Counter()
        for when, snap in self.snapshots:
            if when <= t:
                best = snap
        return best


def main() -> None:
    command = sys.argv[sys.argv.index('--') + 1:] if '--' in sys.argv else ['npm', 'run', 'bench:usage']
    sampler = Sampler()
    sampler.start()
    time.sleep(0.5)
    marks: dict[str, float] = {}
    events = 0
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:  # type: ignore[union-attr]
        sys.stdout.write(line)
        if line.startswith('raw JetStream'):
            marks['start'] = time.time()
        match = re.match(r'end to end: (\d+) events', line)
        if match:
            marks['end'] = time.time()
            events = int(match.group(1))
    proc.wait()
    sampler.running = False
    if 'start' not in marks or 'end' not in marks or events == 0:
        sys.exit(f'no end-to-end phase found in the output (exit code {proc.returncode})')
    before, after = sampler.at(marks['start']), sampler.at(marks['end'])
    wall = marks['end'] - marks['start']
    total = 0.0
    print(f'\nCPU during the end-to-end phase ({events} events, {wall:.1f} s):')
    for k in sorted(after, key=lambda k: after[k] - before[k], reverse=True):
        spent = after[k] - before[k]
        total += spent
        print(f'  {k:26s} {spent:6.1f} s  {spent / events * 1e6:6.0f} us/event')
    print(f'cpu by process: {total / events * 1e6:.0f} us/event ({total:.1f} s of {os.cpu_count() * wall:.1f} s on {os.cpu_count()} cores)')


if __name__ == '__main__':
    main()
