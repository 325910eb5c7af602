// BTF: type information (.BTF), function/line info (.BTF.ext), and typed formatting of map keys/values.
export { BtfBuilder } from './builder.js';
export { type BtfExt, type ExtCoreRelo, type ExtFuncInfo, type ExtLineInfo, parseBtfExt } from './ext.js';
export { type BtfValue, formatValue, parseValue } from './format.js';
export { Btf, parseBtf } from './parse.js';
export * from './types.js';
