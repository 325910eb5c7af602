// iperf 2 helpers for the demo tests: UDP servers in CSV mode, waiting until they are bound, and clients
// run without blocking the event loop (the user-space data path runs on it while the client sends).

import { type ChildProcess, spawn } from 'node:child_process';
import type { VethPair } from './veth.js';

/** iperf 2 UDP server in CSV mode in the receiving namespace; `output` resolves once it is stopped. */
export function server(net: VethPair, port: number): { proc: ChildProcess; output: Promise<string> } {
  const proc = spawn('ip', ['netns', 'exec', net.nsB, 'iperf', '-u', '-s', '-p', String(port), '-y', 'C'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => {
    out += d;
  });
  const output = new Promise<string>((resolve) => proc.on('close', () => resolve(out)));
  return { proc, output };
}

/** Wait (up to 10 s) until UDP sockets are bound on `ports` in the receiving namespace. */
export async function listening(net: VethPair, ports: number[]): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const bound = net.exec(net.nsB, 'ss', '-Hulnt');
    if (ports.every((p) => new RegExp(`:${p}\\b`).test(bound))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`iperf servers did not bind ports ${ports.join(', ')}`);
}

/** Run a command in a namespace without blocking; resolves with stdout+stderr, rejects on failure. */
export function execAsync(ns: string, command: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn('ip', ['netns', 'exec', ns, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => {
      out += d;
    });
    proc.stderr.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    proc.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out + err);
      else reject(new Error(`${command} ${args.join(' ')} in ${ns} failed (${code}): ${err}`));
    });
  });
}

/** A UDP iperf client from the sending namespace: `-b RATE -t SECONDS` to the receiver's `port`. */
export function client(net: VethPair, port: number, rate = '2M', seconds = 1): Promise<string> {
  return execAsync(
    net.nsA,
    'iperf',
    '-u',
    '-c',
    net.addrB,
    '-p',
    String(port),
    '-b',
    rate,
    '-t',
    String(seconds),
  );
}
