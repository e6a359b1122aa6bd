// Which simulated device class each virtual device is: `rpi4:0.4,jetson-nano:0.3,...` parsed,
// and classes dealt to new devices so the fleet stays as close to the mix as whole devices allow.
import { DEVICE_CLASS_NAMES, type DeviceClassName, deviceClass } from "@edgefleet/runtime/facts";

export type ClassMix = ReadonlyArray<{ deviceClass: DeviceClassName; weight: number }>;

export class InvalidClassMixError extends Error {
  override name = "InvalidClassMixError";
}

/** Weights need not sum to 1: they are shares of their sum. */
export function parseClassMix(text: string): ClassMix {
  const mix: { deviceClass: DeviceClassName; weight: number }[] = [];
  for (const part of text.split(",").map((s) => s.trim())) {
    if (!part) continue;
    const [name, share = "1", ...rest] = part.split(":");
    const weight = Number(share);
    if (rest.length || !(weight > 0)) {
      throw new InvalidClassMixError(`"${part}": want <class>:<share>, share a number > 0`);
    }
    try {
      deviceClass(name);
    } catch (err) {
      throw new InvalidClassMixError((err as Error).message);
    }
    if (mix.some((m) => m.deviceClass === name)) {
      throw new InvalidClassMixError(`class ${name} appears twice`);
    }
    mix.push({ deviceClass: name as DeviceClassName, weight });
  }
  if (mix.length === 0) {
    throw new InvalidClassMixError(`empty class mix (classes: ${DEVICE_CLASS_NAMES.join(", ")})`);
  }
  const sum = mix.reduce((s, m) => s + m.weight, 0);
  return mix.map((m) => ({ ...m, weight: m.weight / sum }));
}

/**
 * Classes for `count` new devices joining `existing` ones: each goes to the class furthest below
 * its share of the grown fleet, so any prefix of the result is mixed too (ties: mix order).
 */
export function dealClasses(
  mix: ClassMix,
  count: number,
  existing: readonly string[] = [],
): DeviceClassName[] {
  const total = existing.length + count;
  const have = new Map<string, number>(mix.map((m) => [m.deviceClass, 0]));
  for (const c of existing) if (have.has(c)) have.set(c, have.get(c)! + 1);
  const out: DeviceClassName[] = [];
  for (let i = 0; i < count; i++) {
    const placed = existing.length + i + 1;
    let best = mix[0];
    let bestGap = Number.NEGATIVE_INFINITY;
    for (const m of mix) {
      // Compare against the share of the fleet placed so far, not the final size: the fleet
      // is mixed at every size, not only when complete.
      const gap = m.weight * Math.min(placed, total) - have.get(m.deviceClass)!;
      if (gap > bestGap + 1e-9) {
        best = m;
        bestGap = gap;
      }
    }
    have.set(best.deviceClass, have.get(best.deviceClass)! + 1);
    out.push(best.deviceClass);
  }
  return out;
}
