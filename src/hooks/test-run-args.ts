// Test runs of the program types whose context is an argument buffer: raw_tracepoint (the tracepoint's u64
// arguments) and syscall (the caller's buffer, written back), as the kernel's bpf_prog_test_run_raw_tp and
// bpf_prog_test_run_syscall do them on Linux 6.18 (checked with BPF_PROG_TEST_RUN):
// - no data_in and no repeat count (the kernel refuses repeat 1 as well: `bpftool prog run` needs
//   `repeat 0`); the program runs once and reports no duration;
// - ctx_in of at most 96 bytes (12 arguments) for raw_tracepoint, 65535 for syscall;
// - syscall programs get their buffer back as ctx out (the kernel copies it back into ctx_in).
// The kernel also refuses a ctx_in shorter than the furthest context byte the program reads (its verifier
// records it); here the buffer is zero past ctx_in instead.

import type { Runner } from '../engine/runner.js';

/** Largest ctx_in of a raw_tracepoint test run: MAX_BPF_FUNC_ARGS u64 arguments. */
export const RAW_TP_MAX_CTX = 12 * 8;
/** Largest ctx_in of a syscall test run (U16_MAX). */
export const SYSCALL_MAX_CTX = 0xffff;

/** The program types run here. */
export const ARGS_TYPES: ReadonlySet<string> = new Set(['raw_tracepoint', 'syscall']);

/** What an argument-buffer test run gives: the shape of a test run's result. */
export interface ArgsRunResult {
  retval: number;
  dataOut: Uint8Array;
  ctxOut: Uint8Array;
  durationNs: number;
  repeat: number;
}

/**
 * One run of a raw_tracepoint or syscall program on `ctxIn`, or the kernel's refusal through `refuse` (its
 * EINVAL cases, worded for the caller's error).
 */
export function testRunArgs(
  runner: Runner,
  options: { dataIn: Uint8Array; ctxIn?: Uint8Array; repeat?: number },
  type: string,
  refuse: (reason: string) => Error,
): ArgsRunResult {
  if (options.dataIn.length > 0)
    throw refuse(`${type} test runs take no data_in (${options.dataIn.length} bytes given)`);
  if (options.repeat !== undefined && options.repeat !== 0)
    throw refuse(
      `${type} test runs take no repeat count (${options.repeat} given; the kernel runs them once)`,
    );
  const ctxIn = options.ctxIn ?? new Uint8Array(0);
  const max = type === 'syscall' ? SYSCALL_MAX_CTX : RAW_TP_MAX_CTX;
  if (ctxIn.length > max)
    throw refuse(`ctx_in has ${ctxIn.length} bytes, more than a ${type} test run takes (${max})`);
  const rt = runner.runtime;
  const space = rt.space;
  // The whole context the verifier lets the program reach, zero past ctx_in.
  const region = space.allocate(max + 1, 'ctx', `${type} test-run context`, type === 'syscall');
  try {
    space.bytes.fill(0, region.start, region.start + max + 1);
    space.bytes.set(ctxIn, region.start);
    const r0 = runner.run(region.start, { programType: type });
    const ctxOut =
      type === 'syscall' ? space.bytes.slice(region.start, region.start + ctxIn.length) : new Uint8Array(0);
    return {
      retval: Number(r0 & 0xffff_ffffn),
      dataOut: new Uint8Array(0),
      ctxOut,
      durationNs: 0,
      repeat: 1,
    };
  } finally {
    space.release(region);
  }
}
