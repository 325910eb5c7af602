// execsnoop: print every program started on the machine (or by one parent) — pid, parent, command and
// the file executed — from execsnoop.bpf.c's ring buffer. `main()` prints until Ctrl-C; `execsnoop()` gives
// the events to a function (what the test uses).
import { cString, runUntilSignal, startTool, type Tool } from './tool.js';

export const EXECSNOOP_O = new URL('./execsnoop.bpf.o', import.meta.url).pathname;

/** struct exec_event of events.h. */
export interface ExecEvent {
  pid: number;
  ppid: number;
  uid: number;
  comm: string;
  filename: string;
}

/** { u32 pid, ppid, uid, pad; char comm[16]; char filename[256]; } */
export function decodeExec(r: Uint8Array): ExecEvent {
  const v = new DataView(r.buffer, r.byteOffset, r.byteLength);
  return {
    pid: v.getUint32(0, true),
    ppid: v.getUint32(4, true),
    uid: v.getUint32(8, true),
    comm: cString(r, 16, 16),
    filename: cString(r, 32, 256),
  };
}

/** Start tracing execs; `ppid` limits it to the children of one process. Stop with `tool.stop()`. */
export function execsnoop(onEvent: (e: ExecEvent) => void, options: { ppid?: number } = {}): Tool {
  return startTool(EXECSNOOP_O, {
    constants: { target_ppid: options.ppid ?? 0 },
    ring: { map: 'events', onRecord: (r) => onEvent(decodeExec(r)) },
  });
}

export async function main(print: (line: string) => void = console.log): Promise<void> {
  print(`${'PID'.padEnd(7)} ${'PPID'.padEnd(7)} ${'COMM'.padEnd(16)} FILE`);
  const tool = execsnoop((e) =>
    print(`${String(e.pid).padEnd(7)} ${String(e.ppid).padEnd(7)} ${e.comm.padEnd(16)} ${e.filename}`),
  );
  await runUntilSignal(tool);
}
