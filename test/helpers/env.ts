// A small fake HelperEnv for helper unit tests: an address space, maps by handle, a fixed clock.
import type { HelperEnv, Invocation, TaskModel } from '../../src/helpers/types.js';
import { mapInSpace } from '../../src/maps/base.js';
import { createMap, type MapBase, type MapSpec } from '../../src/maps/index.js';
import { AddressSpace } from '../../src/memory/address-space.js';

export class FakeEnv implements HelperEnv {
  readonly space: AddressSpace;
  invocation: Invocation = { ctx: 0, programType: 'xdp', tailCalls: 0 };
  /** The clock (ns); nowNs is derived from it, as in the runtime. */
  now = 1_000_000_123;
  cpu = 0;
  rand = 0;
  lines: string[] = [];
  calls: bigint[][] = [];
  onCallback: (target: number, args: bigint[]) => bigint = () => 0n;
  task: TaskModel = { pid: 42, tgid: 41, uid: 1000, gid: 100, comm: 'a-very-long-command-name' };

  constructor(size = 1 << 20) {
    this.space = new AddressSpace(size);
  }

  mapAt(addr: number) {
    return mapInSpace(this.space, addr);
  }
  nowNs(): bigint {
    return BigInt(this.now);
  }
  nowNsNumber(): number {
    return this.now;
  }
  random32(): number {
    this.rand = (this.rand + 0x9e3779b9) >>> 0;
    return this.rand;
  }
  trace(line: string): void {
    this.lines.push(line);
  }
  callback(target: number, r1: bigint, r2: bigint, r3: bigint, r4: bigint, r5: bigint): bigint {
    this.calls.push([BigInt(target), r1, r2, r3, r4, r5]);
    return this.onCallback(target, [r1, r2, r3, r4, r5]);
  }

  map(spec: Omit<MapSpec, 'name' | 'flags'> & { flags?: number }, cpus = 1): MapBase {
    return createMap(this.space, { name: 'm', flags: 0, ...spec }, { cpus });
  }

  /** A writable scratch buffer holding `bytes`; returns its address. */
  buf(bytes: Uint8Array | number): number {
    const data = typeof bytes === 'number' ? new Uint8Array(bytes) : bytes;
    const r = this.space.allocate(Math.max(1, data.length), 'stack', 'test buffer');
    this.space.write(r.start, data);
    return r.start;
  }

  str(s: string): number {
    return this.buf(new Uint8Array([...Buffer.from(s, 'latin1'), 0]));
  }

  read(addr: number, n: number): Uint8Array {
    return this.space.read(addr, n);
  }
}
