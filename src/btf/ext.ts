// Parse `.BTF.ext`: per-section func_info, line_info and CO-RE relocation records. In object files
// `insnOff` is a byte offset inside the ELF section (libbpf turns it into a slot index when linking).
//
// Layout: header { magic:16 version:8 flags:8 hdr_len:32 func_info_off:32 func_info_len:32
// line_info_off:32 line_info_len:32 [core_relo_off:32 core_relo_len:32] }, offsets counted from the end
// of the header. Each info block is `rec_size:32` then { sec_name_off:32 num_info:32 records... }*.

import { FormatError } from '../errors.js';
import { BTF_MAGIC, type Btf } from './parse.js';

/** One func_info record of `.BTF.ext`: where a function starts and the BTF id of its prototype. */
export interface ExtFuncInfo {
  insnOff: number;
  typeId: number;
}

/** One line_info record of `.BTF.ext`: the source line of an instruction. */
export interface ExtLineInfo {
  insnOff: number;
  file: string;
  source: string;
  line: number;
  column: number;
}

/** One CO-RE relocation record of `.BTF.ext`: an instruction whose field access is relative to a BTF type. */
export interface ExtCoreRelo {
  insnOff: number;
  typeId: number;
  accessStr: string;
  /** enum bpf_core_relo_kind (0 = FIELD_BYTE_OFFSET ...). */
  kind: number;
}

/** The records of a `.BTF.ext` section, by ELF section name. */
export interface BtfExt {
  /** By ELF section name. */
  funcInfo: Map<string, ExtFuncInfo[]>;
  lineInfo: Map<string, ExtLineInfo[]>;
  coreRelos: Map<string, ExtCoreRelo[]>;
}

/**
 * Parse a `.BTF.ext` section against the object's BTF; throws FormatError naming `where` for malformed input.
 */
export function parseBtfExt(bytes: Uint8Array, btf: Btf, where = '.BTF.ext'): BtfExt {
  if (bytes.length < 24) throw new FormatError(where, `truncated header (${bytes.length} bytes)`, 0);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint16(0, true) !== BTF_MAGIC) throw new FormatError(where, 'bad magic', 0);
  if (bytes[2] !== 1) throw new FormatError(where, `unsupported version ${bytes[2]}`, 2);
  const hdrLen = v.getUint32(4, true);
  if (hdrLen < 24 || hdrLen > bytes.length) throw new FormatError(where, `bad header length ${hdrLen}`, 4);
  const str = (off: number) => btf.str(off);
  const block = <T>(offField: number, recMin: number, read: (at: number) => T): Map<string, T[]> => {
    const out = new Map<string, T[]>();
    const off = v.getUint32(offField, true);
    const len = v.getUint32(offField + 4, true);
    if (len === 0) return out;
    const start = hdrLen + off;
    const end = start + len;
    if (end > bytes.length || len < 4)
      throw new FormatError(where, 'info block extends past the end', offField);
    const recSize = v.getUint32(start, true);
    if (recSize < recMin || recSize > 1024) throw new FormatError(where, `bad record size ${recSize}`, start);
    let at = start + 4;
    while (at < end) {
      if (at + 8 > end) throw new FormatError(where, 'truncated section header in info block', at);
      const sec = str(v.getUint32(at, true));
      const num = v.getUint32(at + 4, true);
      at += 8;
      if (num * recSize > end - at)
        throw new FormatError(where, `${num} records for ${sec} exceed the block`, at);
      const list = out.get(sec) ?? [];
      for (let i = 0; i < num; i++, at += recSize) list.push(read(at));
      out.set(sec, list);
    }
    return out;
  };
  const funcInfo = block(8, 8, (at) => ({
    insnOff: v.getUint32(at, true),
    typeId: v.getUint32(at + 4, true),
  }));
  const lineInfo = block(16, 16, (at) => {
    const lineCol = v.getUint32(at + 12, true);
    return {
      insnOff: v.getUint32(at, true),
      file: str(v.getUint32(at + 4, true)),
      source: str(v.getUint32(at + 8, true)),
      line: lineCol >>> 10,
      column: lineCol & 0x3ff,
    };
  });
  const coreRelos =
    hdrLen >= 32
      ? block(24, 16, (at) => ({
          insnOff: v.getUint32(at, true),
          typeId: v.getUint32(at + 4, true),
          accessStr: str(v.getUint32(at + 8, true)),
          kind: v.getUint32(at + 12, true),
        }))
      : new Map<string, ExtCoreRelo[]>();
  return { funcInfo, lineInfo, coreRelos };
}
