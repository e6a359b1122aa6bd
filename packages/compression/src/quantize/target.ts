import type { HardwareFacts } from "@edgefleet/runtime";

/** What the int8 kernels of the CPU a quantized model will run on depend on. */
export type CpuTarget = Pick<HardwareFacts, "arch" | "cpuFlags">;

const X86 = new Set(["x64", "ia32"]);
const VNNI = ["avx512_vnni", "avx_vnni"];

/**
 * Whether int8 weights must use 7 bits ([-64, 63], ONNX Runtime's `reduce_range`) for `target`.
 * ORT's x86 U8S8 kernels without VNNI multiply uint8 activations by int8 weights with
 * vpmaddubsw, which adds the products in pairs into a saturating int16: 255 * 127 * 2 overflows
 * it, 255 * 64 * 2 does not. VNNI (vpdpbusd) accumulates in int32 and Arm has no such step, so
 * those keep the full 8-bit range.
 *
 * With no target (a catalogue variant may ship to any device, a test runs on whatever host it
 * gets) the answer is the one that is correct on every CPU: reduce the range. It costs one bit of
 * weight precision where full range would have been safe.
 */
export function int8ReduceRange(target: CpuTarget | undefined): boolean {
  if (!target) return true;
  return X86.has(target.arch) && !VNNI.some((f) => target.cpuFlags.includes(f));
}
