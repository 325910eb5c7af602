// Engines by name: a prepared program bound to the interpreter or the JIT (checked or not, with its run
// limits), the one way loaders and hooks run programs.
export * from './runner.js';
