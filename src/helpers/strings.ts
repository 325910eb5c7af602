// Formatted output and number parsing: bpf_trace_printk, bpf_snprintf, bpf_strtol, bpf_strtoul. The format
// language is the kernel's (bpf_bprintf_prepare): %d %i %u %x %X with optional l/ll, flags [0+- ] and a
// width, %c, %s, %p with %pK %px %ps %pS %pks %pus %pi4 %pI4 %pi6 %pI6; anything else is -EINVAL.

import { Errno } from '../spec/errno.js';
import { cString, err, onNumbers, ptr, ptrWord, u32, writable } from './args.js';
import type { HelperDef, HelperEnv } from './types.js';

/** bpf_trace_printk's output buffer (MAX_BPF_TRACE_PRINTK_SIZE). */
const TRACE_PRINTK_SIZE = 1024;
/** bpf_snprintf takes at most this many arguments (MAX_BPRINTF_VARARGS). */
const MAX_VARARGS = 12;

const isPrint = (c: number) => c >= 0x20 && c < 0x7f;
const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isPunct = (c: number) => isPrint(c) && !isSpace(c) && !/[A-Za-z0-9]/.test(String.fromCharCode(c));

function pad(s: string, width: number, left: boolean, zero: boolean): string {
  if (s.length >= width) return s;
  if (left) return s.padEnd(width, ' ');
  if (zero) {
    const sign = s[0] === '-' || s[0] === '+' || s[0] === ' ' ? s[0] : '';
    return sign + s.slice(sign.length).padStart(width - sign.length, '0');
  }
  return s.padStart(width, ' ');
}

/**
 * Format as the kernel does; a negative errno when the format is invalid (unsupported conversion,
 * more conversions than arguments, non-printable characters).
 */
export function bpfFormat(env: HelperEnv, fmt: string, args: readonly bigint[]): string | number {
  let out = '';
  let argi = 0;
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt.charCodeAt(i);
    if (c > 0x7f || (!isPrint(c) && !isSpace(c))) return -Errno.EINVAL;
    if (fmt[i] !== '%') {
      out += fmt[i];
      continue;
    }
    if (fmt[i + 1] === '%') {
      out += '%';
      i++;
      continue;
    }
    if (argi >= args.length) return -Errno.EINVAL;
    const arg = args[argi++]!;
    i++;
    let left = false;
    let zero = false;
    let plus = false;
    let space = false;
    for (; '0+- '.includes(fmt[i] ?? 'x'); i++) {
      if (fmt[i] === '-') left = true;
      else if (fmt[i] === '0') zero = true;
      else if (fmt[i] === '+') plus = true;
      else space = true;
    }
    let width = 0;
    for (; fmt[i] !== undefined && fmt[i]! >= '0' && fmt[i]! <= '9'; i++) width = width * 10 + Number(fmt[i]);
    const conv = fmt[i];
    if (conv === 'p') {
      const next = fmt.charCodeAt(i + 1);
      const n1 = fmt[i + 1];
      if (Number.isNaN(next) || isSpace(next) || isPunct(next) || 'KxsS'.includes(n1!)) {
        if (n1 === 'K' || n1 === 'x' || n1 === 's' || n1 === 'S') i++;
        out += pad(BigInt.asUintN(64, arg).toString(16).padStart(16, '0'), width, left, zero);
        continue;
      }
      if ((n1 === 'k' || n1 === 'u') && fmt[i + 2] === 's') {
        i += 2;
        out += pad(cString(env, ptr(arg))?.text ?? '', width, left, false);
        continue;
      }
      if ((n1 === 'i' || n1 === 'I') && (fmt[i + 2] === '4' || fmt[i + 2] === '6')) {
        const v6 = fmt[i + 2] === '6';
        i += 2;
        const a = ptr(arg);
        if (env.space.regionAt(a, v6 ? 16 : 4) === undefined) return -Errno.EINVAL;
        const b = env.space.read(a, v6 ? 16 : 4);
        let text: string;
        if (!v6) text = [...b].map((x) => (n1 === 'i' ? String(x).padStart(3, '0') : String(x))).join('.');
        else {
          const groups: string[] = [];
          for (let g = 0; g < 8; g++)
            groups.push(((b[2 * g]! << 8) | b[2 * g + 1]!).toString(16).padStart(4, '0'));
          text = groups.join(n1 === 'i' ? '' : ':');
        }
        out += pad(text, width, left, false);
        continue;
      }
      return -Errno.EINVAL;
    }
    if (conv === 's') {
      out += pad(cString(env, ptr(arg))?.text ?? '', width, left, false);
      continue;
    }
    if (conv === 'c') {
      out += pad(String.fromCharCode(Number(arg & 0xffn)), width, left, false);
      continue;
    }
    let bits = 32;
    if (fmt[i] === 'l') {
      bits = 64;
      i++;
      if (fmt[i] === 'l') i++;
    }
    const k = fmt[i];
    if (k !== 'd' && k !== 'i' && k !== 'u' && k !== 'x' && k !== 'X') return -Errno.EINVAL;
    let text: string;
    if (k === 'd' || k === 'i') {
      const v = BigInt.asIntN(bits, arg);
      text = (v >= 0n ? (plus ? '+' : space ? ' ' : '') : '') + v.toString();
    } else {
      const v = BigInt.asUintN(bits, arg);
      text = k === 'u' ? v.toString() : k === 'x' ? v.toString(16) : v.toString(16).toUpperCase();
    }
    out += pad(text, width, left, zero && !left);
  }
  return out;
}

function writeString(env: HelperEnv, at: number, size: number, text: string): void {
  const n = Math.min(text.length, size - 1);
  const b = env.space.bytes;
  for (let i = 0; i < n; i++) b[at + i] = text.charCodeAt(i) & 0xff;
  b[at + n] = 0;
}

/**
 * __bpf_strtoull: [consumed, value, negative] or a negative errno. `flags` (a `word`) holds the base in
 * its low 5 bits and nothing else, so it is valid only as 0, 8, 10 or 16.
 */
function parseInteger(
  env: HelperEnv,
  buf: number,
  len: number,
  flags: number,
): [number, bigint, boolean] | number {
  if (buf === 0 || len === 0) return -Errno.EINVAL;
  if (flags !== 0 && flags !== 8 && flags !== 10 && flags !== 16) return -Errno.EINVAL;
  const b = env.space.bytes;
  let i = 0;
  while (i < len && isSpace(b[buf + i]!)) i++;
  const negative = i < len && b[buf + i] === 0x2d;
  if (negative) i++;
  if (i === len) return -Errno.EINVAL;
  // The kernel copies at most 63 characters before parsing.
  let s = '';
  for (let j = i; j < len && j - i < 63; j++) {
    if (b[buf + j] === 0) break;
    s += String.fromCharCode(b[buf + j]!);
  }
  let base = flags;
  let p = 0;
  if (base === 0) {
    if (s[0] === '0') base = s[1]?.toLowerCase() === 'x' && /[0-9a-fA-F]/.test(s[2] ?? '') ? 16 : 8;
    else base = 10;
  }
  if (base === 16 && s[0] === '0' && s[1]?.toLowerCase() === 'x') p = 2;
  let value = 0n;
  let overflow = false;
  const start = p;
  for (; p < s.length; p++) {
    const d = Number.parseInt(s[p]!, 16);
    if (Number.isNaN(d) || d >= base) break;
    value = value * BigInt(base) + BigInt(d);
    if (value >= 1n << 64n) overflow = true;
  }
  if (overflow) return -Errno.ERANGE;
  if (p === start) return -Errno.EINVAL;
  return [i + p, value, negative];
}

/** strtol/strtoul: r0 is the number of characters consumed (or an errno); the 64-bit value goes to *res. */
function strtox(signed: boolean) {
  const name = signed ? 'strtol' : 'strtoul';
  return onNumbers(['word', 'u32', 'word', 'word'], (env, buf, len, flags, res) => {
    const r = parseInteger(env, ptrWord(buf), len, flags);
    if (typeof r === 'number') return r;
    const [consumed, v, negative] = r;
    let out: bigint;
    if (signed) {
      if (negative ? BigInt.asIntN(64, -v) > 0n : BigInt.asIntN(64, v) < 0n) return -Errno.ERANGE;
      out = negative ? -v : v;
    } else {
      if (negative) return -Errno.EINVAL;
      out = v;
    }
    writable(env, ptrWord(res), 8, name);
    env.space.view.setBigUint64(ptrWord(res), BigInt.asUintN(64, out), true);
    return consumed;
  });
}

export const STRING_HELPERS: HelperDef[] = [
  {
    id: 6,
    name: 'trace_printk',
    proto: { ret: 'integer', args: ['mem', 'const_size', 'unchecked', 'unchecked', 'unchecked'] },
    // No number form: its three arguments are printed as 64-bit values (%llx), which a number cannot hold.
    call: (env, fmt, size, a1, a2, a3) => {
      const f = cString(env, ptr(fmt), u32(size));
      if (!f?.terminated) return err(-Errno.EINVAL);
      const text = bpfFormat(env, f.text, [a1, a2, a3]);
      if (typeof text === 'number') return err(text);
      const line = text.slice(0, TRACE_PRINTK_SIZE - 1);
      env.trace(line.endsWith('\n') ? line.slice(0, -1) : line);
      return BigInt(text.length);
    },
  },
  {
    id: 165,
    name: 'snprintf',
    proto: {
      ret: 'integer',
      args: ['uninit_mem', 'const_size_or_zero', 'const_str', 'mem_or_null', 'const_size_or_zero'],
    },
    // The arguments are pointers and sizes (the values to format are read from memory as 64-bit words).
    ...onNumbers(['word', 'u32', 'word', 'word', 'u32'], (env, str, size, fmt, data, n) => {
      const at = ptrWord(data);
      if (n % 8 !== 0 || n > MAX_VARARGS * 8 || (n !== 0 && at === 0)) return -Errno.EINVAL;
      const f = cString(env, ptrWord(fmt), 65536);
      if (!f?.terminated) return -Errno.EINVAL;
      const args: bigint[] = [];
      for (let i = 0; i < n / 8; i++) args.push(env.space.view.getBigUint64(at + 8 * i, true));
      const text = bpfFormat(env, f.text, args);
      if (typeof text === 'number') return text;
      if (size > 0) {
        writable(env, ptrWord(str), size, 'snprintf');
        writeString(env, ptrWord(str), size, text);
      }
      return text.length + 1;
    }),
  },
  {
    id: 105,
    name: 'strtol',
    proto: { ret: 'integer', args: ['mem', 'const_size', 'anything', 'long_ptr'] },
    ...strtox(true),
  },
  {
    id: 106,
    name: 'strtoul',
    proto: { ret: 'integer', args: ['mem', 'const_size', 'anything', 'long_ptr'] },
    ...strtox(false),
  },
];
