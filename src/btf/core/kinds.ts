// The kinds of CO-RE relocation (enum bpf_core_relo_kind in the kernel's UAPI), as clang writes them in
// `.BTF.ext`, and the three families they fall in: a field reached by an access path, a whole type, an
// enumerator.

/** CO-RE relocation kinds by name (the `kind` of a `.BTF.ext` CO-RE record). */
export const CoreKind = {
  FIELD_BYTE_OFFSET: 0,
  FIELD_BYTE_SIZE: 1,
  FIELD_EXISTS: 2,
  FIELD_SIGNED: 3,
  FIELD_LSHIFT_U64: 4,
  FIELD_RSHIFT_U64: 5,
  TYPE_ID_LOCAL: 6,
  TYPE_ID_TARGET: 7,
  TYPE_EXISTS: 8,
  TYPE_SIZE: 9,
  ENUMVAL_EXISTS: 10,
  ENUMVAL_VALUE: 11,
  TYPE_MATCHES: 12,
} as const;
export type CoreKind = (typeof CoreKind)[keyof typeof CoreKind];

/** What each kind computes, in words (for messages). */
export const CORE_KIND_WORDS: Readonly<Record<number, string>> = {
  0: 'byte offset of',
  1: 'byte size of',
  2: 'existence of',
  3: 'signedness of',
  4: 'bitfield left shift of',
  5: 'bitfield right shift of',
  6: 'local type id of',
  7: 'target type id of',
  8: 'existence of',
  9: 'size of',
  10: 'existence of',
  11: 'value of',
  12: 'match of',
};

/** Kinds that read a field through an access path (`0:1:2`). */
export const isFieldKind = (k: number): boolean => k >= 0 && k <= 5;
/** Kinds that ask about a whole type (access string `0`). */
export const isTypeKind = (k: number): boolean => (k >= 6 && k <= 9) || k === 12;
/** Kinds that ask about an enumerator. */
export const isEnumvalKind = (k: number): boolean => k === 10 || k === 11;
