import { describe, expect, it } from "vitest";
import { type CpuTarget, int8ReduceRange } from "./target";

describe("int8ReduceRange: 7-bit weights only where ORT's int16 pair sums can saturate", () => {
  const cases: [string, CpuTarget | undefined, boolean][] = [
    ["x64 AVX2 without VNNI (this EPYC)", { arch: "x64", cpuFlags: ["fma", "avx", "avx2"] }, true],
    [
      "x64 AVX-512 without VNNI (Skylake-SP)",
      { arch: "x64", cpuFlags: ["avx2", "avx512f", "avx512bw"] },
      true,
    ],
    ["x64 SSE4.2 only", { arch: "x64", cpuFlags: ["sse4_2"] }, true],
    ["ia32 without VNNI", { arch: "ia32", cpuFlags: ["avx2"] }, true],
    [
      "x64 AVX-512 VNNI (Zen 4/5, Cascade Lake)",
      { arch: "x64", cpuFlags: ["avx2", "avx512f", "avx512_vnni"] },
      false,
    ],
    ["x64 AVX-VNNI (Alder Lake)", { arch: "x64", cpuFlags: ["avx2", "avx_vnni"] }, false],
    ["arm64 NEON", { arch: "arm64", cpuFlags: ["neon", "asimddp"] }, false],
    ["arm 32-bit", { arch: "arm", cpuFlags: ["neon"] }, false],
    ["unknown target: safe everywhere", undefined, true],
  ];
  it.each(cases)("%s", (_, target, expected) => {
    expect(int8ReduceRange(target)).toBe(expected);
  });
});
