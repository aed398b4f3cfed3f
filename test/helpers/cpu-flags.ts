/** Whether this CPU has every one of these instruction-set flags (Linux: /proc/cpuinfo; elsewhere taken as no). */
import { readFileSync } from 'node:fs';

export function cpuHas(names: string[]): boolean {
  try {
    const flags = readFileSync('/proc/cpuinfo', 'utf8');
    return names.every((f) => new RegExp(`\\b${f}\\b`).test(flags));
  } catch {
    return false;
  }
}
