// Types of measure.js (plain JavaScript, shared with bench/corpus.js).

/** What the measure needs of tsbpf: the ELF reader and the loader (from src/ or dist/). */
export interface TsbpfLib {
  readObject(
    bytes: Uint8Array,
    options?: { file?: string },
  ): { programs: { name: string; type: string; section: string }[] };
  loadCollection(
    spec: unknown,
    options: { backend?: 'userspace' | 'kernel'; programs: readonly string[] },
  ): { close(): void };
}

export type KernelVerdict = 'accept' | 'reject' | 'unavailable' | 'unknown';

export interface Row {
  object: string;
  program: string;
  section?: string;
  type?: string;
  kernel: KernelVerdict;
  kernelReason?: string;
  tsbpf: 'accept' | 'reject';
  tsbpfReason?: string;
  agree: 'yes' | 'no' | 'n/a';
}

export interface Totals {
  programs: number;
  objects: number;
  kernelAccepted: number;
  kernelRejected: number;
  kernelUndecided: number;
  tsbpfAccepted: number;
  bothAccept: number;
  acceptedShare: number;
  bothReject: number;
  earlyRejections: string[];
  unsound: string[];
  byType: Record<string, { kernelAccepted: number; tsbpfAccepted: number }>;
  refusals: [reason: string, count: number][];
}

export const CORPUS_DIR: string;
export function corpusObjects(): string[];
export function logReason(lines: string[]): string | undefined;
export function kernelLoad(
  file: string,
  options?: { pinMaps?: boolean },
): {
  verdicts: Map<string, { verdict: KernelVerdict; type?: string; reason?: string; pin?: string }>;
  mapPins?: string;
  release(): void;
};
export function firstLine(e: unknown): string;
export function tsbpfLoad(
  lib: TsbpfLib,
  file: string,
  backend?: 'userspace' | 'kernel',
): {
  verdicts: Map<string, { verdict: 'accept' | 'reject'; type: string; section: string; reason?: string }>;
  objectError: string | undefined;
};
export function measureCorpus(lib: TsbpfLib, files?: string[]): Row[];
export function summarize(rows: Row[]): Totals;
export function groupReason(reason?: string): string;
export const MISSING_FEATURE: RegExp;
export const PACKET_TYPES: Set<string>;
export const SKB_TYPES: Set<string>;
export function kernelRun(
  pin: string,
  packet: Uint8Array,
  ctxIn?: Uint8Array,
): { retval: number; dataOut: Uint8Array; ctxOut?: Uint8Array } | { error: string };
export function kernelMapUpdate(pin: string, key: Uint8Array, value: Uint8Array): void;
export function kernelMapDump(pin: string): Map<string, string>;
export function cliVerdict(file: string, program: string): { verdict: 'accept' | 'reject'; reason?: string };
