// BTF type kinds and the parsed form of each type (see the kernel's Documentation/bpf/btf.rst).
//
// Each type on the wire is a 12-byte header followed by kind-specific data:
//   +-------------+---------------------------------------+-------------+
//   | name_off:32 | kflag:1 _:2 kind:5 _:8 vlen:16 (info) | size/type:32|
//   +-------------+---------------------------------------+-------------+

/** BTF type kinds (BTF_KIND_*), by name. */
export const Kind = {
  VOID: 0,
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** Linkage of a FUNC (its vlen field) and of a VAR. */
export const Linkage = { STATIC: 0, GLOBAL: 1, EXTERN: 2 } as const;

/** BTF kind names by number (Kind turned around). */
export const KIND_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(Kind).map(([k, v]) => [v, k]),
);

/** INT encoding bits. */
export const IntEncoding = { SIGNED: 1, CHAR: 2, BOOL: 4 } as const;

/** A member of a struct or union type. */
export interface Member {
  name: string;
  type: number;
  /** Offset in bits from the start of the struct/union. */
  bitOffset: number;
  /** Bitfield width in bits, 0 when the member is not a bitfield. */
  bitSize: number;
}

/** A value of an enum type (ENUM or ENUM64). */
export interface EnumValue {
  name: string;
  value: bigint;
}

/** A parameter of a function prototype (FUNC_PROTO). */
export interface Param {
  name: string;
  type: number;
}

/** A variable of a data section (DATASEC): its VAR type, offset and size in the section. */
export interface DatasecVar {
  type: number;
  offset: number;
  size: number;
}

interface Base {
  id: number;
  name: string;
}

/** One BTF type: its id and name, and the fields its kind has. */
export type BtfType =
  | (Base & { kind: typeof Kind.VOID })
  | (Base & { kind: typeof Kind.INT; size: number; encoding: number; bitOffset: number; bits: number })
  | (Base & { kind: typeof Kind.PTR; type: number })
  | (Base & { kind: typeof Kind.ARRAY; type: number; indexType: number; nelems: number })
  | (Base & { kind: typeof Kind.STRUCT | typeof Kind.UNION; size: number; members: Member[] })
  | (Base & {
      kind: typeof Kind.ENUM | typeof Kind.ENUM64;
      size: number;
      signed: boolean;
      values: EnumValue[];
    })
  | (Base & { kind: typeof Kind.FWD; union: boolean })
  | (Base & {
      kind:
        | typeof Kind.TYPEDEF
        | typeof Kind.VOLATILE
        | typeof Kind.CONST
        | typeof Kind.RESTRICT
        | typeof Kind.TYPE_TAG;
      type: number;
    })
  | (Base & { kind: typeof Kind.FUNC; type: number; linkage: number })
  | (Base & { kind: typeof Kind.FUNC_PROTO; ret: number; params: Param[] })
  | (Base & { kind: typeof Kind.VAR; type: number; linkage: number })
  | (Base & { kind: typeof Kind.DATASEC; size: number; vars: DatasecVar[] })
  | (Base & { kind: typeof Kind.FLOAT; size: number })
  | (Base & { kind: typeof Kind.DECL_TAG; type: number; componentIdx: number });

/** The type variant(s) whose kind includes K (STRUCT and UNION share one variant). */
export type TypeOfKind<K extends Kind> = BtfType extends infer T
  ? T extends { kind: infer X }
    ? K extends X
      ? T
      : never
    : never
  : never;

/** Kinds that only qualify or rename another type. */
export const isModifier = (k: number): boolean =>
  k === Kind.TYPEDEF || k === Kind.VOLATILE || k === Kind.CONST || k === Kind.RESTRICT || k === Kind.TYPE_TAG;
