// GPL-only and sleeping helpers: the kernel refuses a call to one from a program whose licence is not GPL-compatible
// ("cannot call GPL-restricted function from non-GPL compatible program"), checked when the helper is
// available to the program's type and before its arguments. The ids are the kernel's gpl_only helpers as
// Linux 6.18 answers (each helper called from a program of a type that has it, licence "Proprietary";
// test/verifier/gpl.test.ts asks the kernel again).

/** Helper ids the kernel marks gpl_only. */
export const GPL_ONLY_HELPERS: ReadonlySet<number> = new Set([
  // 36 (probe_write_user), 77, 78, 92 (rc_*): gpl_only in the kernel's source; no type this machine loads
  // has them (lockdown, no lirc), so the kernel was not asked.
  36, 77, 78, 92, 4, 6, 22, 25, 27, 35, 45, 55, 56, 67, 69, 100, 110, 111, 112, 113, 114, 115, 119, 121, 158,
  163, 165, 169, 170, 171, 172, 173, 175, 176, 177, 191, 204, 205, 206, 207,
]);

/** The licences the kernel counts as GPL-compatible (license_is_gpl_compatible), compared exactly. */
const GPL_COMPATIBLE = new Set([
  'GPL',
  'GPL v2',
  'GPL and additional rights',
  'Dual BSD/GPL',
  'Dual MIT/GPL',
  'Dual MPL/GPL',
]);

/** Whether the kernel lets a program with this licence call GPL-only helpers. */
export function gplCompatible(license: string): boolean {
  return GPL_COMPATIBLE.has(license);
}

/**
 * Helpers that may sleep (might_sleep): only sleepable programs may call them ("helper call might sleep in
 * a non-sleepable prog"). Found the same way on Linux 6.18: copy_from_user and copy_from_user_task.
 */
export const MIGHT_SLEEP_HELPERS: ReadonlySet<number> = new Set([148, 191]);
