// struct_ops maps: each variable of a `.struct_ops` or `.struct_ops.link` section (`SEC(".struct_ops")
// struct tcp_congestion_ops reno = { .ssthresh = (void *)reno_ssthresh, .name = "reno" }`) is a map of type
// STRUCT_OPS named after the variable, its value the variable's struct and initial bytes; the relocations on
// its function-pointer members name the programs that implement them. Each such program is given its
// target `struct.member` (`tcp_congestion_ops.ssthresh`), from which the verifier types its arguments and
// return value and the kernel back end takes the member's index and the struct's id. As libbpf: a program
// may serve several maps only through the same member of the same struct; `.struct_ops.link` maps carry
// BPF_F_LINK (registered through a BPF link rather than by the map update).

import type { Btf } from '../btf/parse.js';
import { Kind } from '../btf/types.js';
import { type MapSpec, MapType, type StructOpsSpec } from '../spec/maps.js';
import type { ProgramSpec } from '../spec/object.js';
import { programTypeForSection } from '../spec/sections.js';
import { Reloc, SHF_EXECINSTR, SHT_NOBITS, STT_FUNC, STT_SECTION } from './constants.js';
import type { MapDef } from './maps.js';
import { type ElfFile, elfError, type Section } from './parse.js';

/** BPF_F_LINK: the struct_ops map is registered by BPF_LINK_CREATE, not by its update. */
export const BPF_F_LINK = 1 << 13;

/** A struct_ops value larger than this is hostile (the kernel's largest struct_ops type is a few KiB). */
const MAX_VALUE_SIZE = 1 << 16;

/** `.struct_ops`, `.struct_ops.link`, and libbpf's `.struct_ops.NAME` / `.struct_ops.link.NAME` variants. */
export function isStructOpsSection(name: string): boolean {
  return name === '.struct_ops' || name.startsWith('.struct_ops.');
}

const isLinkSection = (name: string) => name === '.struct_ops.link' || name.startsWith('.struct_ops.link.');

/** The kernel's name of a struct: the object's without libbpf's `___flavour` suffix. */
export function essentialName(name: string): string {
  const at = name.indexOf('___');
  return at > 0 ? name.slice(0, at) : name;
}

/** Each program's target (`tcp_congestion_ops.ssthresh`) by program name, and where it was first given. */
export type StructOpsTargets = Map<string, { target: string; map: string }>;

/**
 * The maps of one struct_ops section. `targets` collects every program's `struct.member`; a program named
 * by two different members (or structs) is refused, as libbpf refuses it.
 */
export function structOpsMaps(
  elf: ElfFile,
  section: Section,
  btf: Btf | undefined,
  targets: StructOpsTargets,
): MapDef[] {
  const where = (msg: string, off?: number) => elfError(elf.file, msg, section.name, off);
  if (!btf) throw where('struct_ops maps need a .BTF section (the struct of each variable)');
  const datasec = btf.byName(section.name, Kind.DATASEC);
  if (!datasec) throw where(`no BTF DATASEC named ${section.name}`);
  if (section.type === SHT_NOBITS || section.data.length < section.size)
    throw where('struct_ops variables need their bytes, but the section has none in the file');
  // Sorted once: each variable takes its own range by binary search (a hostile file's many variables and
  // relocations cost n log n, not their product).
  const relocs = [...(elf.relocations.get(section.index) ?? [])].sort((a, b) => a.offset - b.offset);
  const funcs = new FuncIndex(elf);
  const defs: MapDef[] = [];
  let end = 0;
  for (const v of [...datasec.vars].sort((a, b) => a.offset - b.offset)) {
    const varType = btf.type(v.type);
    if (varType.kind !== Kind.VAR) throw where(`DATASEC entry type ${v.type} is not a VAR`);
    const name = varType.name;
    const st = btf.resolve(varType.type);
    if (st.kind !== Kind.STRUCT)
      throw where(`struct_ops map ${name}: its type ${btf.typeName(varType.type)} is not a struct`, v.offset);
    if (st.size === 0 || st.size > MAX_VALUE_SIZE || v.offset + st.size > section.size)
      throw where(`struct_ops map ${name}: its ${st.size}-byte struct does not fit the section`, v.offset);
    // Variables do not overlap: what is copied adds up to the section's size at most.
    if (v.offset < end) throw where(`struct_ops map ${name} overlaps the variable before it`, v.offset);
    end = v.offset + st.size;
    const value = section.data.slice(v.offset, v.offset + st.size);
    const kernelStruct = essentialName(st.name);
    const members: StructOpsSpec['members'] = st.members.map((m) => ({
      name: m.name,
      offset: Math.floor(m.bitOffset / 8),
      size: m.bitSize ? Math.ceil(m.bitSize / 8) : btf.sizeof(m.type),
      funcPtr: isFuncPtr(btf, m.type),
    }));
    const byOffset = new Map<number, StructOpsSpec['members'][number]>();
    for (const m of members) if (m.size > 0 && !byOffset.has(m.offset)) byOffset.set(m.offset, m);
    for (let i = firstAtOrAfter(relocs, v.offset); i < relocs.length; i++) {
      const r = relocs[i]!;
      if (r.offset >= v.offset + st.size) break;
      const off = r.offset - v.offset;
      const m = byOffset.get(off);
      const fail = (why: string) =>
        where(`struct_ops map ${name}, member ${m?.name ?? `at +${off}`}: ${why}`);
      if (!m) throw fail('the relocation is at no member');
      if (!m.funcPtr) throw fail(`relocation to ${r.symbol.name}, but the member is not a function pointer`);
      if (r.type !== Reloc.R_BPF_64_ABS64 && r.type !== Reloc.R_BPF_64_64)
        throw fail(`unsupported relocation type ${r.type}`);
      const program = programAt(elf, funcs, r.symbol, value, off, (why) => fail(why));
      const target = `${kernelStruct}.${m.name}`;
      const seen = targets.get(program);
      if (seen && seen.target !== target)
        throw fail(
          `program ${program} already implements ${seen.target} (map ${seen.map}); a struct_ops program serves one member of one struct`,
        );
      if (!seen) targets.set(program, { target, map: name });
      m.program = program;
      // The slot's bytes are the loader's: it writes the program's fd (kernel) or id (user space) there.
      value.fill(0, off, off + 8);
    }
    const spec: MapSpec = {
      name,
      type: MapType.STRUCT_OPS,
      keySize: 4,
      valueSize: st.size,
      maxEntries: 1,
      flags: isLinkSection(section.name) ? BPF_F_LINK : 0,
      contents: [{ key: new Uint8Array(4), value }],
      btfKeyTypeId: 0,
      btfValueTypeId: st.id,
      structOps: { struct: kernelStruct, members },
    };
    defs.push({ spec, section: section.index, offset: v.offset, isData: false });
  }
  return defs;
}

/** A pointer to a function prototype (through typedefs and qualifiers). */
function isFuncPtr(btf: Btf, id: number): boolean {
  const t = btf.resolve(id);
  return t.kind === Kind.PTR && t.type !== 0 && btf.resolve(t.type).kind === Kind.FUNC_PROTO;
}

/** Index of the first relocation at or after byte `offset` (relocations sorted by offset). */
function firstAtOrAfter(relocs: readonly { offset: number }[], offset: number): number {
  let [lo, hi] = [0, relocs.length];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (relocs[mid]!.offset < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The functions of each code section by start offset, indexed once per section asked for. */
class FuncIndex {
  private readonly bySection = new Map<number, Map<number, string>>();
  constructor(private readonly elf: ElfFile) {}
  at(section: number, value: number): string | undefined {
    let m = this.bySection.get(section);
    if (!m) {
      m = new Map();
      for (const s of this.elf.symbolsIn(section))
        if (s.type === STT_FUNC && s.name !== '' && !m.has(s.value)) m.set(s.value, s.name);
      this.bySection.set(section, m);
    }
    return m.get(value);
  }
}

/** The program a function-pointer relocation names: a function of a struct_ops program section. */
function programAt(
  elf: ElfFile,
  funcs: FuncIndex,
  sym: { name: string; shndx: number; type: number; value: number },
  value: Uint8Array,
  off: number,
  fail: (why: string) => Error,
): string {
  const sec = elf.sections[sym.shndx];
  if (!sec || !(sec.flags & SHF_EXECINSTR)) throw fail(`${sym.name || 'the relocation'} is not a program`);
  // REL relocations keep the addend in the slot: a section symbol names the function at that offset.
  const addend = Number(new DataView(value.buffer, value.byteOffset + off, 8).getBigInt64(0, true));
  const at = (sym.type === STT_SECTION ? 0 : sym.value) + addend;
  const fn = funcs.at(sec.index, at);
  if (!fn) throw fail(`the relocation points into section ${sec.name} at ${at}, where no function starts`);
  if (sec.name === '.text') throw fail(`${fn} is a subprogram of .text, not a program`);
  if (programTypeForSection(sec.name)?.type !== 'struct_ops')
    throw fail(`program ${fn} (section ${sec.name}) is not a struct_ops program`);
  return fn;
}

/** Give each program a struct_ops map names its target (`struct.member`); the others keep the section's. */
export function applyStructOpsTargets(programs: ProgramSpec[], targets: StructOpsTargets): void {
  for (const p of programs) {
    const t = targets.get(p.name);
    if (t) p.attachTo = t.target;
  }
}
