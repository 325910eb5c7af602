// Small programs several test files run.

/**
 * Assembler text: the u64 at `key` of the array map `map_fd(0)` (4-byte keys) goes up by one, atomically,
 * through the value pointer map_lookup_elem returns; then r0 = `result`.
 */
export function arrayCounter(key: number, result: number): string {
  return `
    *(u32 *)(r10 - 4) = ${key}
    r2 = r10
    r2 += -4
    r1 = map_fd(0) ll
    call 1
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
  out:
    r0 = ${result}
    exit
  `;
}
