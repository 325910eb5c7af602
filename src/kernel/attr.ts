// Numbers of the bpf() ABI (include/uapi/linux/bpf.h, kernel 6.x): commands, program and attach types,
// and the byte offsets of the `union bpf_attr` members each command uses. Offsets were checked against
// the kernel header with offsetof(); the fields added after 6.1 (log_true_size ...) follow the 6.18 header.
// All pointers are __aligned_u64, all integers little-endian on the supported architectures.

/** enum bpf_cmd. */
export const Cmd = {
  MAP_CREATE: 0,
  MAP_LOOKUP_ELEM: 1,
  MAP_UPDATE_ELEM: 2,
  MAP_DELETE_ELEM: 3,
  MAP_GET_NEXT_KEY: 4,
  PROG_LOAD: 5,
  OBJ_PIN: 6,
  OBJ_GET: 7,
  PROG_TEST_RUN: 10,
  OBJ_GET_INFO_BY_FD: 15,
  BTF_LOAD: 18,
  MAP_FREEZE: 22,
  LINK_CREATE: 28,
  LINK_DETACH: 34,
} as const;

export const CMD_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(Cmd).map(([name, n]) => [n, `BPF_${name}`]),
);

/** enum bpf_prog_type (the ones tsbpf knows as hooks). */
export const ProgType = {
  SOCKET_FILTER: 1,
  KPROBE: 2,
  SCHED_CLS: 3,
  SCHED_ACT: 4,
  TRACEPOINT: 5,
  XDP: 6,
  PERF_EVENT: 7,
  CGROUP_SKB: 8,
  RAW_TRACEPOINT: 17,
  TRACING: 26,
  SYSCALL: 31,
} as const;

/** enum bpf_attach_type (the ones used here). */
export const AttachType = { XDP: 37 } as const;

/** XDP_FLAGS_* for link_create.flags on XDP links. */
export const XdpFlags = { UPDATE_IF_NOEXIST: 1, SKB_MODE: 2, DRV_MODE: 4, HW_MODE: 8 } as const;

/** BPF_MAP_CREATE. */
export const MapCreate = {
  map_type: 0,
  key_size: 4,
  value_size: 8,
  max_entries: 12,
  map_flags: 16,
  inner_map_fd: 20,
  numa_node: 24,
  map_name: 28, // char[16]
  map_ifindex: 44,
  btf_fd: 48,
  btf_key_type_id: 52,
  btf_value_type_id: 56,
  btf_vmlinux_value_type_id: 60,
  map_extra: 64, // u64
  SIZE: 72,
} as const;

/** BPF_MAP_*_ELEM and MAP_GET_NEXT_KEY (`value` and `next_key` share offset 16). */
export const MapElem = { map_fd: 0, key: 8, value: 16, next_key: 16, flags: 24, SIZE: 32 } as const;

/** BPF_MAP_FREEZE. */
export const MapFreeze = { map_fd: 0, SIZE: 4 } as const;

/** BPF_PROG_LOAD. */
export const ProgLoad = {
  prog_type: 0,
  insn_cnt: 4,
  insns: 8,
  license: 16,
  log_level: 24,
  log_size: 28,
  log_buf: 32,
  kern_version: 40,
  prog_flags: 44,
  prog_name: 48, // char[16]
  prog_ifindex: 64,
  expected_attach_type: 68,
  prog_btf_fd: 72,
  func_info_rec_size: 76,
  func_info: 80,
  func_info_cnt: 88,
  line_info_rec_size: 92,
  line_info: 96,
  line_info_cnt: 104,
  attach_btf_id: 108,
  attach_prog_fd: 112,
  core_relo_cnt: 116,
  fd_array: 120,
  core_relos: 128,
  core_relo_rec_size: 136,
  log_true_size: 140, // output, 6.4+
  prog_token_fd: 144, // 6.9+
  fd_array_cnt: 148, // 6.14+
  /** Up to log_true_size: older kernels accept it (they ignore nothing but zero tails), newer report the size. */
  SIZE: 144,
} as const;

/** BPF_OBJ_PIN / BPF_OBJ_GET. */
export const Obj = { pathname: 0, bpf_fd: 8, file_flags: 12, SIZE: 16 } as const;

/** BPF_PROG_TEST_RUN (`test`). */
export const TestRun = {
  prog_fd: 0,
  retval: 4,
  data_size_in: 8,
  data_size_out: 12,
  data_in: 16,
  data_out: 24,
  repeat: 32,
  duration: 36,
  ctx_size_in: 40,
  ctx_size_out: 44,
  ctx_in: 48,
  ctx_out: 56,
  flags: 64,
  cpu: 68,
  batch_size: 72,
  SIZE: 80,
} as const;

/** BPF_OBJ_GET_INFO_BY_FD (`info`). */
export const InfoByFd = { bpf_fd: 0, info_len: 4, info: 8, SIZE: 16 } as const;

/** struct bpf_map_info (prefix). */
export const MapInfo = {
  type: 0,
  id: 4,
  key_size: 8,
  value_size: 12,
  max_entries: 16,
  map_flags: 20,
  name: 24, // char[16]
  btf_id: 64,
  btf_key_type_id: 68,
  btf_value_type_id: 72,
  /** The prefix we read; the kernel copies min(info_len, its size). */
  SIZE: 80,
} as const;

/** struct bpf_prog_info (prefix). */
export const ProgInfo = {
  type: 0,
  id: 4,
  tag: 8,
  jited_prog_len: 16,
  xlated_prog_len: 20,
  name: 64,
  btf_id: 128,
  SIZE: 136,
} as const;

/** BPF_BTF_LOAD. */
export const BtfLoad = {
  btf: 0,
  btf_log_buf: 8,
  btf_size: 16,
  btf_log_size: 20,
  btf_log_level: 24,
  btf_log_true_size: 28, // output, 6.4+
  SIZE: 32,
} as const;

/** BPF_LINK_CREATE (`link_create`). */
export const LinkCreate = {
  prog_fd: 0,
  target_fd: 4,
  target_ifindex: 4,
  attach_type: 8,
  flags: 12,
  SIZE: 48,
} as const;

/** BPF_LINK_DETACH. */
export const LinkDetach = { link_fd: 0, SIZE: 4 } as const;

/** Longest object name the kernel keeps (BPF_OBJ_NAME_LEN - 1 characters). */
export const OBJ_NAME_LEN = 16;
