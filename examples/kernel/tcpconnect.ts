// tcpconnect: print every outgoing TCP connection attempt — pid, command, source and destination — from
// tcpconnect.bpf.c's ring buffer. `main()` prints until Ctrl-C; `tcpconnect()` gives the events to a
// function (what the test uses).
import { cString, runUntilSignal, startTool, type Tool } from './tool.js';

export const TCPCONNECT_O = new URL('./tcpconnect.bpf.o', import.meta.url).pathname;

/** struct connect_event of events.h, addresses as text. */
export interface ConnectEvent {
  pid: number;
  family: 'ipv4' | 'ipv6';
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  uid: number;
  comm: string;
}

function address(bytes: Uint8Array, v4: boolean): string {
  if (v4) return [...bytes.subarray(0, 4)].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // The URL parser writes an IPv6 address in its canonical short form ('::1').
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** { u32 pid; u16 family, sport, dport, pad; u32 uid; u8 saddr[16], daddr[16]; char comm[16]; } */
export function decodeConnect(r: Uint8Array): ConnectEvent {
  const v = new DataView(r.buffer, r.byteOffset, r.byteLength);
  const v4 = v.getUint16(4, true) === 2;
  return {
    pid: v.getUint32(0, true),
    family: v4 ? 'ipv4' : 'ipv6',
    sport: v.getUint16(6, true),
    dport: v.getUint16(8, true),
    uid: v.getUint32(12, true),
    saddr: address(r.subarray(16, 32), v4),
    daddr: address(r.subarray(32, 48), v4),
    comm: cString(r, 48, 16),
  };
}

/** Start tracing connects; `pid` limits it to one process. Stop with `tool.stop()`. */
export function tcpconnect(onEvent: (e: ConnectEvent) => void, options: { pid?: number } = {}): Tool {
  return startTool(TCPCONNECT_O, {
    constants: { target_tgid: options.pid ?? 0 },
    ring: { map: 'events', onRecord: (r) => onEvent(decodeConnect(r)) },
  });
}

export async function main(print: (line: string) => void = console.log): Promise<void> {
  print(`${'PID'.padEnd(7)} ${'COMM'.padEnd(16)} ${'SADDR'.padEnd(16)} ${'DADDR'.padEnd(16)} DPORT`);
  const tool = tcpconnect((e) =>
    print(`${String(e.pid).padEnd(7)} ${e.comm.padEnd(16)} ${e.saddr.padEnd(16)} ${e.daddr.padEnd(16)} ${e.dport}`),
  );
  await runUntilSignal(tool);
}
