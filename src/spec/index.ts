// The vocabulary everything else names, at the bottom of the house: program and attach types with their
// contexts, section names as libbpf reads them, program type names as users spell them, map types and
// flags, errno numbers, the kernel's helper names, XDP and TC verdicts, and the plain specs (ObjectSpec,
// ProgramSpec, MapSpec) a loader turns into live objects.
export * from './attach-types.js';
export * from './errno.js';
export * from './helper-names.js';
export * from './link.js';
export * from './maps.js';
export * from './object.js';
export * from './program-types.js';
export * from './sections.js';
export * from './type-names.js';
export * from './verdicts.js';
