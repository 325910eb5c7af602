// Public face of the pcap-filter compiler.
export { compileFilter, type FilterOptions } from './compile.js';
export { FilterSyntaxError, tokenize } from './lexer.js';
export { FILTER_LIMITS, type FilterLimit, FilterLimitError } from './limits.js';
