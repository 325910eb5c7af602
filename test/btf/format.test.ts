import { describe, expect, it } from 'vitest';
import { type Btf, type BtfValue, formatValue, parseValue } from '../../src/btf/index.js';
import { Kind } from '../../src/btf/types.js';
import { readObject } from '../../src/elf/index.js';
import { TsbpfError } from '../../src/errors.js';
import { fixture } from '../elf/fixtures.js';

const objectBtf = (name: string) => readObject(fixture(name), { file: name }).btf as Btf;

describe('formatValue / parseValue', () => {
  it('formats a counters struct with u64 members as bigints, and parses it back to the same bytes', () => {
    const obj = readObject(fixture('maps_btf.o'));
    const btf = obj.btf as Btf;
    const stats = obj.maps.find((m) => m.name === 'proto_stats')!;
    const bytes = new Uint8Array(16);
    new DataView(bytes.buffer).setBigUint64(0, 12n, true);
    new DataView(bytes.buffer).setBigUint64(8, 3400n, true);
    expect(formatValue(btf, stats.btfValueTypeId!, bytes)).toEqual({ packets: 12n, bytes: 3400n });
    expect(parseValue(btf, stats.btfValueTypeId!, { packets: 12n, bytes: 3400n })).toEqual(bytes);
    expect(formatValue(btf, stats.btfKeyTypeId!, Uint8Array.of(17, 0, 0, 0))).toBe(17);
  });

  it('formats an LPM key with a byte array', () => {
    const obj = readObject(fixture('maps_btf.o'));
    const key = obj.maps.find((m) => m.name === 'blocklist')!.btfKeyTypeId!;
    const bytes = Uint8Array.of(32, 0, 0, 0, 10, 0, 0, 1);
    expect(formatValue(obj.btf as Btf, key, bytes)).toEqual({ prefixlen: 32, addr: [10, 0, 0, 1] });
    expect(parseValue(obj.btf as Btf, key, { prefixlen: 32, addr: [10, 0, 0, 1] })).toEqual(bytes);
  });

  it('handles bitfields, enums, bool, char arrays, anonymous unions and structs, floats and pointers', () => {
    const btf = objectBtf('types.o');
    const record = btf.byName('record', Kind.STRUCT)!.id;
    const value: BtfValue = {
      name: 'probe',
      delta: -5,
      valid: true,
      temp: -300,
      color: 'BLUE',
      f: { low: 5, mid: 17, neg: -3, on: true },
      as_u32: 0x04030201,
      as_bytes: [1, 2, 3, 4],
      port: 8080,
      proto: 17,
      big: 'BIG_HUGE',
      balance: -1234567890123n,
      ptr: 0xffff888000001000n,
      ratio: 0.5,
      precise: 1.25,
      tagged: 0n,
    };
    const bytes = parseValue(btf, record, value);
    expect(bytes.length).toBe(80);
    const v = new DataView(bytes.buffer);
    expect(new TextDecoder().decode(bytes.subarray(0, 5))).toBe('probe');
    expect(v.getInt8(8)).toBe(-5);
    expect(v.getInt16(10, true)).toBe(-300);
    expect(v.getUint32(12, true)).toBe(40);
    expect(v.getUint32(16, true)).toBe(5 | (17 << 3) | ((-3 & 0x3f) << 8) | (1 << 14));
    expect(v.getUint16(24, true)).toBe(8080);
    expect(v.getBigUint64(32, true)).toBe(0x100000000n);
    expect(v.getFloat64(64, true)).toBe(1.25);
    expect(formatValue(btf, record, bytes)).toEqual(value);
  });

  it('shows enum values without a name as numbers, and accepts either spelling of a signed value', () => {
    const btf = objectBtf('types.o');
    const color = btf.byName('color', Kind.ENUM)!.id;
    expect(formatValue(btf, color, Uint8Array.of(7, 0, 0, 0))).toBe(7);
    expect(parseValue(btf, color, 'GREEN')).toEqual(Uint8Array.of(2, 0, 0, 0));
    const int = btf.byName('int', Kind.INT)!.id;
    expect(parseValue(btf, int, 0xffffffff)).toEqual(parseValue(btf, int, -1));
    expect(formatValue(btf, int, parseValue(btf, int, 0xffffffff))).toBe(-1);
  });

  it('formats global data sections by variable name', () => {
    const obj = readObject(fixture('globals.o'));
    const rodata = obj.maps.find((m) => m.name === '.rodata')!;
    const formatted = formatValue(obj.btf as Btf, rodata.btfValueTypeId!, rodata.contents![0]!.value);
    expect(formatted).toEqual({
      port_limit: 5001,
      greeting: 'hello',
      'use_globals.____fmt': 'big packet %u',
      'use_globals.____fmt.1': 'small packet',
    });
    const data = obj.maps.find((m) => m.name === '.data')!;
    expect(formatValue(obj.btf as Btf, data.btfValueTypeId!, data.contents![0]!.value)).toEqual({
      packets_seen: 7n,
      counters: [1, 2, 3, 4],
    });
    // Editing a constant before load, the way a skeleton user would.
    const edited = parseValue(obj.btf as Btf, rodata.btfValueTypeId!, {
      ...(formatted as object),
      port_limit: 53,
    });
    expect(new DataView(edited.buffer).getUint32(0, true)).toBe(53);
  });

  it('gives typed errors naming the path for values that do not fit', () => {
    const btf = objectBtf('types.o');
    const record = btf.byName('record', Kind.STRUCT)!.id;
    expect(() => parseValue(btf, record, { nope: 1 })).toThrow(/struct record has no member nope/);
    expect(() => parseValue(btf, record, { temp: 70000 })).toThrow(
      /struct record\.temp: 70000 does not fit in 16/,
    );
    expect(() => parseValue(btf, record, { name: 'much too long' })).toThrow(TsbpfError);
    expect(() => parseValue(btf, record, { f: { low: 8 } })).toThrow(/f\.low: 8 does not fit in 3/);
    expect(() => formatValue(btf, record, new Uint8Array(10))).toThrow(
      /10 bytes are too few for struct record/,
    );
  });

  it('shows a char array that is not UTF-8 text as numbers, so it reads back to the same bytes', () => {
    // Found by the fuzz suite: 0xce 0x91 0xff became U+0391 and U+FFFD, which encode to other bytes.
    const btf = objectBtf('types.o');
    const record = btf.byName('record', Kind.STRUCT)!.id;
    const bytes = new Uint8Array(btf.sizeof(record));
    bytes.set([0xce, 0x91, 0xff, 0x41]);
    const value = formatValue(btf, record, bytes) as { name: BtfValue };
    expect(value.name).toEqual([-50, -111, -1, 65, 0, 0, 0, 0]);
    expect(parseValue(btf, record, value).subarray(0, 8)).toEqual(bytes.subarray(0, 8));
    // Text stays a string, a leading byte-order mark included.
    bytes.set([0xef, 0xbb, 0xbf, 0x41, 0]);
    const text = (formatValue(btf, record, bytes) as { name: BtfValue }).name;
    expect(text).toBe('\ufeffA');
    expect(parseValue(btf, record, formatValue(btf, record, bytes)).subarray(0, 8)).toEqual(
      bytes.subarray(0, 8),
    );
  });

  it('round-trips random record bytes through format and parse', () => {
    const btf = objectBtf('types.o');
    const flags = btf.byName('flags', Kind.STRUCT)!.id;
    let seed = 7;
    for (let i = 0; i < 200; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      // Bits 15..31 of struct flags are padding, so only the low 15 bits survive.
      const bytes = Uint8Array.of(seed & 0xff, (seed >> 8) & 0x7f, 0, 0);
      expect(parseValue(btf, flags, formatValue(btf, flags, bytes))).toEqual(bytes);
    }
  });
});
