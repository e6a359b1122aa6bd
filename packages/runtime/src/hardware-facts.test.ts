import { describe, expect, it } from "vitest";
import {
  detectAccelerators,
  inferenceFlags,
  parseCacheSize,
  parseCgroupMemoryMax,
  parseCpuinfo,
  parseMeminfo,
  readHardwareFacts,
} from "./hardware-facts";

const ZEN5 = `processor	: 0
vendor_id	: AuthenticAMD
cpu family	: 26
model name	: AMD EPYC 9R45
flags		: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512dq avx512bw avx512_bf16 avx_vnni avx512_vnni

processor	: 1
vendor_id	: AuthenticAMD
model name	: AMD EPYC 9R45
flags		: fpu vme sse sse2 ssse3 fma sse4_1 sse4_2 avx f16c avx2 avx512f avx512dq avx512bw avx512_bf16 avx_vnni avx512_vnni
`;

const SAPPHIRE = `processor	: 0
model name	: Intel(R) Xeon(R) Platinum 8488C
flags		: sse4_2 fma avx avx2 avx512f avx512bw avx512_vnni avx512_fp16 amx_bf16 amx_tile amx_int8
`;

const CELERON = `processor	: 0
model name	: Intel(R) Celeron(R) J4125 CPU @ 2.00GHz
flags		: sse sse2 ssse3 sse4_1 sse4_2 aes rdrand
`;

const RPI4 = `processor	: 0
BogoMIPS	: 108.00
Features	: fp asimd evtstrm crc32 cpuid
CPU implementer	: 0x41
CPU architecture: 8
CPU part	: 0xd08

processor	: 1
Features	: fp asimd evtstrm crc32 cpuid
CPU part	: 0xd08

Revision	: c03114
Serial		: 10000000aaaaaaaa
Model		: Raspberry Pi 4 Model B Rev 1.4
`;

const GRAVITON2 = `processor	: 0
BogoMIPS	: 243.75
Features	: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs
CPU implementer	: 0x41
CPU part	: 0xd0c
`;

const GRAVITON3 = `processor	: 0
Features	: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm jscvt fcma lrcpc dcpop sha3 sm3 sm4 asimddp sha512 sve asimdfhm dit uscat ilrcpc flagm ssbs paca pacg dcpodp svei8mm svebf16 i8mm bf16 dgh rng
CPU implementer	: 0x41
CPU part	: 0xd40
`;

const RPI3_ARMV7 = `processor	: 0
model name	: ARMv7 Processor rev 4 (v7l)
BogoMIPS	: 38.40
Features	: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32
CPU implementer	: 0x41
CPU part	: 0xd03

Hardware	: BCM2835
Model		: Raspberry Pi 3 Model B Plus Rev 1.3
`;

describe("cpuinfo", () => {
  it.each([
    {
      case: "Zen 5",
      text: ZEN5,
      arch: "x64",
      model: "AMD EPYC 9R45",
      cpus: 2,
      flags: [
        "sse4_2",
        "fma",
        "f16c",
        "avx",
        "avx2",
        "avx512f",
        "avx512bw",
        "avx512_bf16",
        "avx512_vnni",
        "avx_vnni",
      ],
    },
    {
      case: "Sapphire Rapids",
      text: SAPPHIRE,
      arch: "x64",
      model: "Intel(R) Xeon(R) Platinum 8488C",
      cpus: 1,
      flags: ["sse4_2", "fma", "avx", "avx2", "avx512f", "avx512bw", "avx512_vnni", "amx", "fp16"],
    },
    {
      case: "Celeron gateway",
      text: CELERON,
      arch: "x64",
      model: "Intel(R) Celeron(R) J4125 CPU @ 2.00GHz",
      cpus: 1,
      flags: ["sse4_2"],
    },
    {
      case: "Raspberry Pi 4",
      text: RPI4,
      arch: "arm64",
      model: "ARM Cortex-A72 (Raspberry Pi 4 Model B Rev 1.4)",
      cpus: 2,
      flags: ["neon"],
    },
    {
      case: "Graviton 2",
      text: GRAVITON2,
      arch: "arm64",
      model: "ARM Neoverse-N1",
      cpus: 1,
      flags: ["neon", "asimddp", "fp16"],
    },
    {
      case: "Graviton 3",
      text: GRAVITON3,
      arch: "arm64",
      model: "ARM Neoverse-V1",
      cpus: 1,
      flags: ["neon", "asimddp", "i8mm", "fp16", "bf16", "sve"],
    },
    {
      case: "Raspberry Pi 3, 32-bit",
      text: RPI3_ARMV7,
      arch: "arm",
      model: "ARM Cortex-A53 (Raspberry Pi 3 Model B Plus Rev 1.3)",
      cpus: 1,
      flags: ["neon"],
    },
  ])("$case", ({ text, arch, model, cpus, flags }) => {
    const info = parseCpuinfo(text);
    expect(info.model).toBe(model);
    expect(info.processors).toBe(cpus);
    expect(inferenceFlags(info.flags, arch)).toEqual(flags);
  });

  it("survives an empty cpuinfo", () => {
    expect(parseCpuinfo("")).toEqual({ model: "unknown", flags: [], processors: 0 });
  });
});

describe("memory and caches", () => {
  it.each([
    {
      text: "MemTotal:        8000000 kB\nMemFree:  100 kB\nMemAvailable:    6000000 kB\n",
      total: 8000000 * 1024,
      avail: 6000000 * 1024,
    },
    { text: "MemTotal:        1000 kB\nMemFree:  100 kB\n", total: 1000 * 1024, avail: 100 * 1024 },
  ])("meminfo $total", ({ text, total, avail }) => {
    expect(parseMeminfo(text)).toEqual({ totalBytes: total, availableBytes: avail });
  });

  it.each([
    ["max\n", undefined],
    ["536870912\n", 536870912],
    ["", undefined],
  ])("cgroup memory.max %j", (text, want) => {
    expect(parseCgroupMemoryMax(text)).toBe(want);
  });

  it.each([
    ["32K\n", 32 * 1024],
    ["32768K", 32 * 1024 * 1024],
    ["8M", 8 * 1024 * 1024],
    ["junk", undefined],
  ])("cache size %j", (text, want) => {
    expect(parseCacheSize(text)).toBe(want);
  });
});

describe("accelerators", () => {
  it.each([
    { dev: ["null", "tty0", "dri/card0", "dri/renderD128"], want: ["gpu-render-node"] },
    { dev: ["nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"], want: ["nvidia-gpu"] },
    {
      dev: ["nvhost-ctrl-gpu", "nvhost-nvdla0", "dri/renderD128"],
      want: ["nvidia-tegra-gpu", "nvidia-dla", "gpu-render-node"],
    },
    { dev: ["apex_0"], want: ["coral-edgetpu"] },
    { dev: ["accel/accel0", "hailo0"], want: ["npu", "hailo"] },
    { dev: ["null", "zero"], want: [] },
  ])("$dev", ({ dev, want }) => {
    expect(detectAccelerators(dev)).toEqual(want);
  });
});

describe("this machine", () => {
  it("reads real facts", async () => {
    const f = await readHardwareFacts();
    expect(f.arch).toBe(process.arch);
    expect(f.cores).toBeGreaterThan(0);
    expect(f.ramTotalBytes).toBeGreaterThan(f.ramFreeBytes);
    expect(f.simulated).toBe(false);
    expect(f.deviceClass).toBe("");
  });
});
