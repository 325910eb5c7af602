// opensnoop: print every openat(2) on the machine (or of one process) — pid, command, flags, path — from
// opensnoop.bpf.c's ring buffer. `main()` prints until Ctrl-C; `opensnoop()` gives the events to a function
// (what the test uses).
import { cString, runUntilSignal, startTool, type Tool } from './tool.js';

export const OPENSNOOP_O = new URL('./opensnoop.bpf.o', import.meta.url).pathname;

/** struct open_event of events.h. */
export interface OpenEvent {
  pid: number;
  tid: number;
  flags: number;
  uid: number;
  comm: string;
  path: string;
}

/** { u32 pid, tid; s32 flags; u32 uid; char comm[16]; char path[256]; } */
export function decodeOpen(r: Uint8Array): OpenEvent {
  const v = new DataView(r.buffer, r.byteOffset, r.byteLength);
  return {
    pid: v.getUint32(0, true),
    tid: v.getUint32(4, true),
    flags: v.getInt32(8, true),
    uid: v.getUint32(12, true),
    comm: cString(r, 16, 16),
    path: cString(r, 32, 256),
  };
}

/** Start tracing openat; `pid` limits it to one process. Stop with `tool.stop()`. */
export function opensnoop(onEvent: (e: OpenEvent) => void, options: { pid?: number } = {}): Tool {
  return startTool(OPENSNOOP_O, {
    constants: { target_tgid: options.pid ?? 0 },
    ring: { map: 'events', onRecord: (r) => onEvent(decodeOpen(r)) },
  });
}

/** Records lost to a full ring buffer so far (the program's `dropped`). */
export function droppedEvents(tool: Tool): bigint {
  return BigInt(tool.obj.getGlobal('dropped') as number | bigint);
}

export async function main(print: (line: string) => void = console.log): Promise<void> {
  print(`${'PID'.padEnd(7)} ${'COMM'.padEnd(16)} ${'FLAGS'.padEnd(8)} PATH`);
  const tool = opensnoop((e) =>
    print(`${String(e.pid).padEnd(7)} ${e.comm.padEnd(16)} ${`0${e.flags.toString(8)}`.padEnd(8)} ${e.path}`),
  );
  await runUntilSignal(tool);
}
