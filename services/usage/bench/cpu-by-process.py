#!/usr/bin/env python3
"""Where the CPU of a benchmark phase goes, per process kind, per event.

Runs a benchmark, samples the CPU time of every PostgreSQL, NATS and node process from /proc, and
prints the CPU each kind spent during one phase divided by its events. On 2 cores, N events/s
leave at most 2,000,000 / N microseconds of CPU per event for all of them.

  python3 services/usage/bench/cpu-by-process.py            usage's end-to-end phase (npm run bench:usage)
  python3 services/usage/bench/cpu-by-process.py --reserve  the charging bench's reservation phase (npm run bench:charging)
  python3 services/usage/bench/cpu-by-process.py --steady   usage's steady 5,000 events/s phase (its latency's)
  python3 services/usage/bench/cpu-by-process.py --pipeline the usage pipeline alone (pipeline.bench.ts: no JetStream, no wallets)
  ... [--reserve|--pipeline] -- command ...                            another command printing the same phase lines

Linux only.
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
    if 'pipeline.bench.ts' in cmd:
        return 'usage (node)'
    if 'reserve-load.ts' in cmd:
        return 'load client (node)'
    if 'charging.bench.ts' in cmd:
        return 'wallets (node, bench process)'
    return None


# A phase: the line that starts it, the line that ends it, and how many events it had (from a match of either).
PHASES = {
    'usage': dict(command=['npm', 'run', 'bench:usage'], start=re.compile(r'raw JetStream'), end=re.compile(r'end to end: (\d+) events'),
                  events=lambda start, end: int(end.group(1)), name='the end-to-end phase'),
    # The steady 5,000 events/s phase: it starts once usage has applied step 2's last ChargeResult.
    'steady': dict(command=['npm', 'run', 'bench:usage'], start=re.compile(r'usage applied the last ChargeResult'), end=re.compile(r'steady \d+ events/s: .*\((\d+) charges\)'),
                   events=lambda start, end: int(end.group(1)), name='the steady phase'),
    'pipeline': dict(command=['npx', 'tsx', 'services/usage/bench/pipeline.bench.ts'], start=re.compile(r'timing (\d+) events'), end=re.compile(r'usage pipeline: '),
                     events=lambda start, end: int(start.group(1)), name='the pipeline phase'),
    'reserve': dict(command=['npm', 'run', 'bench:charging'], start=re.compile(r'reservations over NATS at (\d+)/s for (\d+) s'), end=re.compile(r'  wallets event loop delay'),
                    events=lambda start, end: int(start.group(1)) * int(start.group(2)), name='the reservation phase'),
}


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
    options = sys.argv[1:sys.argv.index('--') if '--' in sys.argv else None]
    phase = PHASES['reserve' if '--reserve' in options else 'pipeline' if '--pipeline' in options else 'steady' if '--steady' in options else 'usage']
    command = sys.argv[sys.argv.index('--') + 1:] if '--' in sys.argv else phase['command']
    sampler = Sampler()
    sampler.start()
    time.sleep(0.5)
    marks: dict[str, float] = {}
    started = None
    events = 0
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:  # type: ignore[union-attr]
        sys.stdout.write(line)
        if started is None:
            started = phase['start'].search(line)
            if started:
                marks['start'] = time.time()
        elif 'end' not in marks:
            ended = phase['end'].search(line)
            if ended:
                marks['end'] = time.time()
                events = phase['events'](started, ended)
    proc.wait()
    sampler.running = False
    if 'start' not in marks or 'end' not in marks or events == 0:
        sys.exit(f"no {phase['name']} found in the output (exit code {proc.returncode})")
    before, after = sampler.at(marks['start']), sampler.at(marks['end'])
    wall = marks['end'] - marks['start']
    total = 0.0
    print(f"\nCPU during {phase['name']} ({events} events, {wall:.1f} s):")
    for k in sorted(after, key=lambda k: after[k] - before[k], reverse=True):
        spent = after[k] - before[k]
        total += spent
        print(f'  {k:30s} {spent:6.1f} s  {spent / events * 1e6:6.0f} us/event')
    print(f'cpu by process: {total / events * 1e6:.0f} us/event ({total:.1f} s of {os.cpu_count() * wall:.1f} s on {os.cpu_count()} cores)')


if __name__ == '__main__':
    main()
