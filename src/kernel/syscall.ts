// Typed wrappers of the bpf() commands tsbpf uses. Each fills `union bpf_attr` in the native arena, calls
// the kernel and turns a failure into a KernelError (VerifierRejectedError for refused programs).
// File descriptors are plain numbers; the caller closes them with `closeFd`/`close`.

import { bytesToHex } from '../hex.js';
import { encode, type Insn } from '../isa/index.js';
import {
  AttachType,
  BtfLoad,
  CMD_NAMES,
  Cmd,
  InfoByFd,
  LinkCreate,
  LinkDetach,
  MapCreate,
  MapElem,
  MapFreeze,
  MapInfo,
  OBJ_NAME_LEN,
  Obj,
  ProgInfo,
  ProgLoad,
  TestRun,
} from './attr.js';
import { KernelError, VerifierRejectedError } from './errors.js';
import { type Arena, arena, closeFd } from './ffi.js';

const ENOENT = 2;
const E2BIG = 7;
const EACCES = 13;
const EINVAL = 22;
const ENOSPC = 28;

const utf8 = new TextEncoder();
const latin = new TextDecoder();

/** Call `cmd`; throw a KernelError on failure. */
function check(a: Arena, cmd: number, size: number, detail?: string): number {
  const r = a.call(cmd, size);
  if (r < 0) throw new KernelError(CMD_NAMES[cmd] ?? `bpf cmd ${cmd}`, -r, detail);
  return r;
}

/** Write an object name (truncated to 15 bytes, the kernel accepts [A-Za-z0-9_.]) into the attribute. */
function setName(a: Arena, field: number, name: string | undefined): void {
  if (!name) return;
  const clean = name.replace(/[^A-Za-z0-9_.]/g, '_').slice(0, OBJ_NAME_LEN - 1);
  a.bytes.set(utf8.encode(clean), field);
}

function cString(a: Arena, s: string): number {
  const bytes = utf8.encode(s);
  const at = a.reserve(bytes.length + 1);
  a.bytes.set(bytes, at);
  return at;
}

function readCString(a: Arena, at: number, max: number): string {
  const end = a.bytes.indexOf(0, at);
  return latin.decode(a.bytes.subarray(at, end < 0 || end > at + max ? at + max : end));
}

function checkSize(what: string, data: Uint8Array, size: number): void {
  if (data.length !== size) throw new RangeError(`${what} is ${data.length} bytes, the map wants ${size}`);
}

// ---------------------------------------------------------------------------------------------- maps

/** What BPF_MAP_CREATE takes. */
export interface MapCreateOptions {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
  name?: string;
  innerMapFd?: number;
  numaNode?: number;
  ifindex?: number;
  btfFd?: number;
  btfKeyTypeId?: number;
  btfValueTypeId?: number;
  /** struct_ops maps: the kernel's value type (`bpf_struct_ops_<name>`) in vmlinux BTF. */
  btfVmlinuxValueTypeId?: number;
  mapExtra?: bigint;
}

/** BPF_MAP_CREATE: returns the map's file descriptor. */
export function mapCreate(o: MapCreateOptions): number {
  const a = arena();
  a.begin(0);
  const v = a.view;
  v.setUint32(MapCreate.map_type, o.type, true);
  v.setUint32(MapCreate.key_size, o.keySize, true);
  v.setUint32(MapCreate.value_size, o.valueSize, true);
  v.setUint32(MapCreate.max_entries, o.maxEntries, true);
  v.setUint32(MapCreate.map_flags, o.flags ?? 0, true);
  v.setUint32(MapCreate.inner_map_fd, o.innerMapFd ?? 0, true);
  v.setUint32(MapCreate.numa_node, o.numaNode ?? 0, true);
  setName(a, MapCreate.map_name, o.name);
  v.setUint32(MapCreate.map_ifindex, o.ifindex ?? 0, true);
  v.setUint32(MapCreate.btf_fd, o.btfFd ?? 0, true);
  v.setUint32(MapCreate.btf_key_type_id, o.btfKeyTypeId ?? 0, true);
  v.setUint32(MapCreate.btf_value_type_id, o.btfValueTypeId ?? 0, true);
  v.setUint32(MapCreate.btf_vmlinux_value_type_id, o.btfVmlinuxValueTypeId ?? 0, true);
  v.setBigUint64(MapCreate.map_extra, o.mapExtra ?? 0n, true);
  return check(a, Cmd.MAP_CREATE, MapCreate.SIZE, o.name ? `map ${o.name}` : undefined);
}

/**
 * BPF_MAP_LOOKUP_ELEM: the value (for per-CPU maps, `valueSize` must be nCpus * round_up(value, 8)),
 * or undefined when the key is absent.
 */
export function mapLookup(fd: number, key: Uint8Array, valueSize: number, flags = 0): Uint8Array | undefined {
  const a = arena();
  a.begin(key.length + valueSize + 16);
  const k = a.put(key);
  const val = a.reserve(valueSize);
  a.view.setUint32(MapElem.map_fd, fd, true);
  a.setPointer(MapElem.key, k);
  a.setPointer(MapElem.value, val);
  a.view.setUint32(MapElem.flags, flags, true);
  const r = a.call(Cmd.MAP_LOOKUP_ELEM, MapElem.SIZE);
  if (r === -ENOENT) return undefined;
  if (r < 0) throw new KernelError('BPF_MAP_LOOKUP_ELEM', -r);
  return a.bytes.slice(val, val + valueSize);
}

/** BPF_MAP_UPDATE_ELEM with BPF_ANY (0), BPF_NOEXIST (1) or BPF_EXIST (2). */
export function mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags = 0): void {
  const a = arena();
  a.begin(key.length + value.length + 16);
  const k = a.put(key);
  const val = a.put(value);
  a.view.setUint32(MapElem.map_fd, fd, true);
  a.setPointer(MapElem.key, k);
  a.setPointer(MapElem.value, val);
  a.view.setUint32(MapElem.flags, flags, true);
  check(a, Cmd.MAP_UPDATE_ELEM, MapElem.SIZE);
}

/** BPF_MAP_DELETE_ELEM: true when the key was there. */
export function mapDelete(fd: number, key: Uint8Array): boolean {
  const a = arena();
  a.begin(key.length + 8);
  const k = a.put(key);
  a.view.setUint32(MapElem.map_fd, fd, true);
  a.setPointer(MapElem.key, k);
  const r = a.call(Cmd.MAP_DELETE_ELEM, MapElem.SIZE);
  if (r === -ENOENT) return false;
  if (r < 0) throw new KernelError('BPF_MAP_DELETE_ELEM', -r);
  return true;
}

/** BPF_MAP_GET_NEXT_KEY: the key after `key` (the first for undefined), undefined at the end. */
export function mapNextKey(fd: number, key: Uint8Array | undefined, keySize: number): Uint8Array | undefined {
  const a = arena();
  a.begin(2 * keySize + 16);
  const next = a.reserve(keySize);
  a.view.setUint32(MapElem.map_fd, fd, true);
  if (key) {
    checkSize('key', key, keySize);
    a.setPointer(MapElem.key, a.put(key));
  }
  a.setPointer(MapElem.next_key, next);
  const r = a.call(Cmd.MAP_GET_NEXT_KEY, MapElem.SIZE);
  if (r === -ENOENT) return undefined;
  if (r < 0) throw new KernelError('BPF_MAP_GET_NEXT_KEY', -r);
  return a.bytes.slice(next, next + keySize);
}

/** BPF_MAP_FREEZE: programs may still read, user space may no longer write. */
export function mapFreeze(fd: number): void {
  const a = arena();
  a.begin(0);
  a.view.setUint32(MapFreeze.map_fd, fd, true);
  check(a, Cmd.MAP_FREEZE, MapFreeze.SIZE);
}

/** What BPF_OBJ_GET_INFO_BY_FD tells about a map. */
export interface MapInfoResult {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
  /** The kernel's id of the map's BTF object (0: created without BTF). */
  btfId: number;
  /** Key and value type ids in that BTF (0: none). */
  btfKeyTypeId: number;
  btfValueTypeId: number;
}

/** BPF_OBJ_GET_INFO_BY_FD for a map (e.g. one opened from a pin). */
export function mapInfo(fd: number): MapInfoResult {
  const a = arena();
  a.begin(MapInfo.SIZE);
  const info = a.reserve(MapInfo.SIZE);
  a.view.setUint32(InfoByFd.bpf_fd, fd, true);
  a.view.setUint32(InfoByFd.info_len, MapInfo.SIZE, true);
  a.setPointer(InfoByFd.info, info);
  check(a, Cmd.OBJ_GET_INFO_BY_FD, InfoByFd.SIZE);
  const v = a.view;
  return {
    type: v.getUint32(info + MapInfo.type, true),
    id: v.getUint32(info + MapInfo.id, true),
    keySize: v.getUint32(info + MapInfo.key_size, true),
    valueSize: v.getUint32(info + MapInfo.value_size, true),
    maxEntries: v.getUint32(info + MapInfo.max_entries, true),
    flags: v.getUint32(info + MapInfo.map_flags, true),
    name: readCString(a, info + MapInfo.name, OBJ_NAME_LEN),
    btfId: v.getUint32(info + MapInfo.btf_id, true),
    btfKeyTypeId: v.getUint32(info + MapInfo.btf_key_type_id, true),
    btfValueTypeId: v.getUint32(info + MapInfo.btf_value_type_id, true),
  };
}

// ------------------------------------------------------------------------------------------ programs

/** What BPF_PROG_LOAD takes. */
export interface ProgLoadOptions {
  type: number;
  /** Instructions (slots) or their bytes. Map references must already hold file descriptors. */
  insns: readonly Insn[] | Uint8Array;
  license: string;
  name?: string;
  /** 0 (log only on failure, retried at level 1), 1, 2 (every state), or with 4 (stats). */
  logLevel?: number;
  /** Log buffer size in bytes (default 1 MiB; grown on truncation up to 64 MiB). */
  logSize?: number;
  flags?: number;
  expectedAttachType?: number;
  ifindex?: number;
  btfFd?: number;
  /** With btfFd: where each function starts (slot) and its BTF FUNC type (global functions need it). */
  funcInfo?: readonly { insn: number; typeId: number }[];
  /** With btfFd: source lines (string offsets in that BTF), which the kernel prints in its log. */
  lineInfo?: readonly { insn: number; fileNameOff: number; lineOff: number; line: number; column: number }[];
  attachBtfId?: number;
  attachProgFd?: number;
  kernVersion?: number;
}

/** A program the kernel loaded: its file descriptor and the verifier's log. */
export interface LoadedProgram {
  fd: number;
  /** The verifier's log when logLevel > 0 (empty otherwise). */
  log: string;
}

const MAX_LOG = 64 * 1024 * 1024;

/**
 * BPF_PROG_LOAD. A refusal (EACCES/EINVAL) throws VerifierRejectedError with the kernel's log; with
 * logLevel 0 the load is repeated at level 1 to obtain that log. E2BIG, the verifier's complexity limits,
 * is a VerifierRejectedError too when a log was asked for (logLevel > 0), else a KernelError: a program
 * that long to verify is not loaded a second time for its log.
 */
export function progLoad(o: ProgLoadOptions): LoadedProgram {
  const bytes = o.insns instanceof Uint8Array ? o.insns : encode(o.insns);
  if (bytes.length % 8 !== 0) throw new RangeError(`program is ${bytes.length} bytes, not a multiple of 8`);
  const level = o.logLevel ?? 0;
  let logSize = level > 0 ? (o.logSize ?? 1024 * 1024) : 0;
  for (;;) {
    const r = loadOnce(o, bytes, level, logSize);
    if (r.fd >= 0) return { fd: r.fd, log: r.log };
    const errno = -r.fd;
    // A truncated log fails the load with ENOSPC even for a good program: retry with more room.
    if (errno === ENOSPC && level > 0 && logSize < MAX_LOG) {
      logSize = Math.min(MAX_LOG, Math.max(logSize * 4, r.trueSize));
      continue;
    }
    if (errno === EACCES || errno === EINVAL || (errno === E2BIG && level > 0)) {
      let log = r.log;
      if (level === 0) log = loadOnce(o, bytes, 1, o.logSize ?? 4 * 1024 * 1024).log;
      throw new VerifierRejectedError(errno, log, o.name ?? '');
    }
    throw new KernelError('BPF_PROG_LOAD', errno, o.name ? `program ${o.name}` : undefined);
  }
}

function loadOnce(
  o: ProgLoadOptions,
  bytes: Uint8Array,
  level: number,
  logSize: number,
): { fd: number; log: string; trueSize: number } {
  const a = arena();
  const funcs = o.btfFd ? (o.funcInfo ?? []) : [];
  const lines = o.btfFd ? (o.lineInfo ?? []) : [];
  a.begin(bytes.length + o.license.length + 1 + logSize + 16 + 8 * funcs.length + 16 * lines.length + 16);
  const insns = a.put(bytes);
  const license = cString(a, o.license);
  const log = logSize > 0 ? a.reserve(logSize) : 0;
  const v = a.view;
  v.setUint32(ProgLoad.prog_type, o.type, true);
  v.setUint32(ProgLoad.insn_cnt, bytes.length / 8, true);
  a.setPointer(ProgLoad.insns, insns);
  a.setPointer(ProgLoad.license, license);
  if (logSize > 0) {
    v.setUint32(ProgLoad.log_level, level, true);
    v.setUint32(ProgLoad.log_size, logSize, true);
    a.setPointer(ProgLoad.log_buf, log);
  }
  v.setUint32(ProgLoad.kern_version, o.kernVersion ?? 0, true);
  v.setUint32(ProgLoad.prog_flags, o.flags ?? 0, true);
  setName(a, ProgLoad.prog_name, o.name);
  v.setUint32(ProgLoad.prog_ifindex, o.ifindex ?? 0, true);
  v.setUint32(ProgLoad.expected_attach_type, o.expectedAttachType ?? 0, true);
  v.setUint32(ProgLoad.prog_btf_fd, o.btfFd ?? 0, true);
  if (funcs.length) {
    const rec = new DataView(new ArrayBuffer(8 * funcs.length));
    funcs.forEach((f, i) => {
      rec.setUint32(8 * i, f.insn, true);
      rec.setUint32(8 * i + 4, f.typeId, true);
    });
    a.setPointer(ProgLoad.func_info, a.put(new Uint8Array(rec.buffer)));
    v.setUint32(ProgLoad.func_info_rec_size, 8, true);
    v.setUint32(ProgLoad.func_info_cnt, funcs.length, true);
  }
  if (lines.length) {
    const rec = new DataView(new ArrayBuffer(16 * lines.length));
    lines.forEach((l, i) => {
      rec.setUint32(16 * i, l.insn, true);
      rec.setUint32(16 * i + 4, l.fileNameOff, true);
      rec.setUint32(16 * i + 8, l.lineOff, true);
      rec.setUint32(16 * i + 12, ((l.line << 10) | Math.min(l.column, 0x3ff)) >>> 0, true);
    });
    a.setPointer(ProgLoad.line_info, a.put(new Uint8Array(rec.buffer)));
    v.setUint32(ProgLoad.line_info_rec_size, 16, true);
    v.setUint32(ProgLoad.line_info_cnt, lines.length, true);
  }
  v.setUint32(ProgLoad.attach_btf_id, o.attachBtfId ?? 0, true);
  v.setUint32(ProgLoad.attach_prog_fd, o.attachProgFd ?? 0, true);
  const fd = a.call(Cmd.PROG_LOAD, ProgLoad.SIZE);
  return {
    fd,
    log: logSize > 0 ? readCString(a, log, logSize) : '',
    trueSize: v.getUint32(ProgLoad.log_true_size, true),
  };
}

/** What BPF_PROG_TEST_RUN takes. */
export interface TestRunOptions {
  /** Packet (or other input data); XDP needs at least 14 bytes. */
  data?: Uint8Array;
  /** Room for data_out (default: data length + 256, enough for adjust_tail growth in most tests). */
  dataOutSize?: number;
  /** Input context (e.g. struct xdp_md, __sk_buff). */
  ctx?: Uint8Array;
  /** Room for ctx_out (default: ctx length, 0 when there is no ctx). */
  ctxOutSize?: number;
  /** Runs (default: not given, which the kernel takes as one; raw_tracepoint and syscall refuse any). */
  repeat?: number;
  flags?: number;
  cpu?: number;
  batchSize?: number;
  /**
   * The program's type by name, for the kernel's per-type rules: raw_tracepoint(_writable) and syscall
   * take no ctx_out (ctxOutSize defaults to 0), and a syscall program's context comes back in ctx_in
   * (returned as `ctx`).
   */
  type?: string;
}

/** Program types whose test run refuses ctx_out (and repeat, duration, data in and out). */
const NO_CTX_OUT: ReadonlySet<string> = new Set(['raw_tracepoint', 'raw_tracepoint_writable', 'syscall']);

/** What BPF_PROG_TEST_RUN gives back. */
export interface TestRunResult {
  /** The program's return value (r0, low 32 bits, unsigned). */
  retval: number;
  /** data_out, trimmed to the size the kernel reported. */
  data: Uint8Array;
  /** ctx_out, when a ctx was given. */
  ctx?: Uint8Array;
  /** Average run time in ns per repetition, as the kernel measured it. */
  duration: number;
}

/** BPF_PROG_TEST_RUN (a.k.a. BPF_PROG_RUN). */
export function progTestRun(fd: number, o: TestRunOptions = {}): TestRunResult {
  const data = o.data ?? new Uint8Array(0);
  const outSize = o.dataOutSize ?? (data.length ? data.length + 256 : 0);
  const ctxOutSize =
    o.ctxOutSize ?? (o.type !== undefined && NO_CTX_OUT.has(o.type) ? 0 : (o.ctx?.length ?? 0));
  const a = arena();
  a.begin(data.length + outSize + (o.ctx?.length ?? 0) + ctxOutSize + 32);
  const v = a.view;
  v.setUint32(TestRun.prog_fd, fd, true);
  if (data.length) {
    v.setUint32(TestRun.data_size_in, data.length, true);
    a.setPointer(TestRun.data_in, a.put(data));
  }
  const out = a.reserve(outSize);
  if (outSize) {
    v.setUint32(TestRun.data_size_out, outSize, true);
    a.setPointer(TestRun.data_out, out);
  }
  let ctxIn = 0;
  if (o.ctx) {
    v.setUint32(TestRun.ctx_size_in, o.ctx.length, true);
    ctxIn = a.put(o.ctx);
    a.setPointer(TestRun.ctx_in, ctxIn);
  }
  const ctxOut = a.reserve(ctxOutSize);
  if (ctxOutSize) {
    v.setUint32(TestRun.ctx_size_out, ctxOutSize, true);
    a.setPointer(TestRun.ctx_out, ctxOut);
  }
  // 0 when not given: one run for the types that repeat, and the only value the others take.
  v.setUint32(TestRun.repeat, o.repeat ?? 0, true);
  v.setUint32(TestRun.flags, o.flags ?? 0, true);
  v.setUint32(TestRun.cpu, o.cpu ?? 0, true);
  v.setUint32(TestRun.batch_size, o.batchSize ?? 0, true);
  check(a, Cmd.PROG_TEST_RUN, TestRun.SIZE);
  const gotData = Math.min(v.getUint32(TestRun.data_size_out, true), outSize);
  const gotCtx = Math.min(v.getUint32(TestRun.ctx_size_out, true), ctxOutSize);
  const result: TestRunResult = {
    retval: v.getUint32(TestRun.retval, true),
    data: a.bytes.slice(out, out + gotData),
    duration: v.getUint32(TestRun.duration, true),
  };
  if (o.ctx && o.type === 'syscall' && !ctxOutSize) {
    // bpf_prog_test_run_syscall writes the context back over ctx_in.
    result.ctx = a.bytes.slice(ctxIn, ctxIn + o.ctx.length);
  } else if (o.ctx) result.ctx = a.bytes.slice(ctxOut, ctxOut + gotCtx);
  return result;
}

/** What BPF_OBJ_GET_INFO_BY_FD tells about a program. */
export interface ProgInfoResult {
  type: number;
  id: number;
  tag: string;
  jitedLength: number;
  xlatedLength: number;
  name: string;
  /** The kernel's id of the program's BTF object (func_info, line_info; 0: loaded without BTF). */
  btfId: number;
}

/** BPF_OBJ_GET_INFO_BY_FD for a program. */
export function progInfo(fd: number): ProgInfoResult {
  const a = arena();
  a.begin(ProgInfo.SIZE);
  const info = a.reserve(ProgInfo.SIZE);
  a.view.setUint32(InfoByFd.bpf_fd, fd, true);
  a.view.setUint32(InfoByFd.info_len, ProgInfo.SIZE, true);
  a.setPointer(InfoByFd.info, info);
  check(a, Cmd.OBJ_GET_INFO_BY_FD, InfoByFd.SIZE);
  const v = a.view;
  const tag = bytesToHex(a.bytes.subarray(info + ProgInfo.tag, info + ProgInfo.tag + 8));
  return {
    type: v.getUint32(info + ProgInfo.type, true),
    id: v.getUint32(info + ProgInfo.id, true),
    tag,
    jitedLength: v.getUint32(info + ProgInfo.jited_prog_len, true),
    xlatedLength: v.getUint32(info + ProgInfo.xlated_prog_len, true),
    name: readCString(a, info + ProgInfo.name, OBJ_NAME_LEN),
    btfId: v.getUint32(info + ProgInfo.btf_id, true),
  };
}

// ------------------------------------------------------------------------------------ pins, BTF, links

/** BPF_OBJ_PIN: pin a map, program or link at `path` (inside a bpffs mount). */
export function objPin(fd: number, path: string): void {
  const a = arena();
  a.begin(utf8.encode(path).length + 8);
  a.setPointer(Obj.pathname, cString(a, path));
  a.view.setUint32(Obj.bpf_fd, fd, true);
  check(a, Cmd.OBJ_PIN, Obj.SIZE, path);
}

/** BPF_OBJ_GET: open a pinned object; returns a new file descriptor. */
export function objGet(path: string, fileFlags = 0): number {
  const a = arena();
  a.begin(utf8.encode(path).length + 8);
  a.setPointer(Obj.pathname, cString(a, path));
  a.view.setUint32(Obj.file_flags, fileFlags, true);
  return check(a, Cmd.OBJ_GET, Obj.SIZE, path);
}

/** BPF_BTF_LOAD: returns the BTF object's fd; on failure the KernelError message carries the kernel's log. */
export function btfLoad(btf: Uint8Array, logLevel = 0, logSize = 256 * 1024): number {
  const run = (level: number) => {
    const a = arena();
    const size = level > 0 ? logSize : 0;
    a.begin(btf.length + size + 8);
    a.setPointer(BtfLoad.btf, a.put(btf));
    a.view.setUint32(BtfLoad.btf_size, btf.length, true);
    const log = a.reserve(size);
    if (size) {
      a.setPointer(BtfLoad.btf_log_buf, log);
      a.view.setUint32(BtfLoad.btf_log_size, size, true);
      a.view.setUint32(BtfLoad.btf_log_level, level, true);
    }
    const r = a.call(Cmd.BTF_LOAD, BtfLoad.SIZE);
    return { r, log: size ? readCString(a, log, size) : '' };
  };
  const first = run(logLevel);
  if (first.r >= 0) return first.r;
  const log = logLevel > 0 ? first.log : run(1).log;
  const last = log.trim().split('\n').pop();
  throw new KernelError('BPF_BTF_LOAD', -first.r, last ? `kernel BTF log: ${last}` : undefined);
}

/** What BPF_LINK_CREATE takes. */
export interface LinkCreateOptions {
  progFd: number;
  /** Target fd, or interface index for XDP. */
  target: number;
  attachType: number;
  flags?: number;
}

/** BPF_LINK_CREATE: returns the link's fd (closing it detaches unless the link is pinned). */
export function linkCreate(o: LinkCreateOptions): number {
  const a = arena();
  a.begin(0);
  a.view.setUint32(LinkCreate.prog_fd, o.progFd, true);
  a.view.setUint32(LinkCreate.target_fd, o.target, true);
  a.view.setUint32(LinkCreate.attach_type, o.attachType, true);
  a.view.setUint32(LinkCreate.flags, o.flags ?? 0, true);
  return check(a, Cmd.LINK_CREATE, LinkCreate.SIZE);
}

/** Attach an XDP program to an interface through a link (flags: XdpFlags, e.g. SKB_MODE). */
export function xdpLink(progFd: number, ifindex: number, flags = 0): number {
  return linkCreate({ progFd, target: ifindex, attachType: AttachType.XDP, flags });
}

/** BPF_LINK_DETACH: detach a link even while other fds (or pins) keep it alive. */
export function linkDetach(linkFd: number): void {
  const a = arena();
  a.begin(0);
  a.view.setUint32(LinkDetach.link_fd, linkFd, true);
  check(a, Cmd.LINK_DETACH, LinkDetach.SIZE);
}

/** close(2) a bpf file descriptor. */
export function close(fd: number): void {
  const r = closeFd(fd);
  if (r < 0) throw new KernelError('close', -r, `fd ${fd}`);
}
