import { readdir, readFile } from "node:fs/promises";
import os from "node:os";

/** Same shape as `hardwareFactsSchema` in @edgefleet/protocol (the wire type). */
export interface HardwareFacts {
  arch: string;
  cores: number;
  ramTotalBytes: number;
  ramFreeBytes: number;
  cpuModel: string;
  /** Inference-relevant flags only, normalised across vendors (see `inferenceFlags`). */
  cpuFlags: string[];
  accelerators: string[];
  os: string;
  simulated: boolean;
  /** Simulated class name, "" when real. */
  deviceClass: string;
}

export interface CpuInfo {
  model: string;
  /** Raw flags ("flags" on x86, "Features" on Arm) of the first processor. */
  flags: string[];
  processors: number;
}

// Arm "CPU part" ids of cores an edge device is likely to have (implementer 0x41 = Arm Ltd).
const ARM_PARTS: Record<string, string> = {
  "0xd03": "Cortex-A53",
  "0xd04": "Cortex-A35",
  "0xd05": "Cortex-A55",
  "0xd07": "Cortex-A57",
  "0xd08": "Cortex-A72",
  "0xd09": "Cortex-A73",
  "0xd0a": "Cortex-A75",
  "0xd0b": "Cortex-A76",
  "0xd0c": "Neoverse-N1",
  "0xd0d": "Cortex-A77",
  "0xd40": "Neoverse-V1",
  "0xd41": "Cortex-A78",
  "0xd46": "Cortex-A510",
  "0xd47": "Cortex-A710",
  "0xd49": "Neoverse-N2",
  "0xd4f": "Neoverse-V2",
};

export function parseCpuinfo(text: string): CpuInfo {
  const blocks = text.split(/\n\s*\n/).filter((b) => b.trim() !== "");
  const fields = (block: string) => {
    const m = new Map<string, string>();
    for (const line of block.split("\n")) {
      const i = line.indexOf(":");
      if (i > 0) m.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
    }
    return m;
  };
  const all = blocks.map(fields);
  const cpus = all.filter((f) => f.has("processor") && /^\d+$/.test(f.get("processor") ?? ""));
  const first = cpus[0] ?? all[0] ?? new Map<string, string>();
  // Board-level lines ("Model", "Hardware") come in a trailing block on Arm.
  const board = (key: string) => all.map((f) => f.get(key)).find((v) => v);
  const flags = (first.get("flags") ?? first.get("features") ?? "").split(/\s+/).filter(Boolean);
  let model = first.get("model name") ?? "";
  if (!model || /^ARMv\d/i.test(model)) {
    const part = ARM_PARTS[(first.get("cpu part") ?? "").toLowerCase()];
    if (part) model = `ARM ${part}`;
  }
  const boardModel = board("model");
  if (boardModel && !/^\d+$/.test(boardModel))
    model = model ? `${model} (${boardModel})` : boardModel;
  return { model: model || board("hardware") || "unknown", flags, processors: cpus.length };
}

/**
 * Maps vendor flags to the names that decide which ORT kernels are fast: x86 VNNI/AMX speed up
 * int8 GEMM, Arm dot-product (asimddp) and i8mm do the same on Arm, fp16 arithmetic exists only
 * where the hardware has it.
 */
export function inferenceFlags(raw: readonly string[], arch: string): string[] {
  const has = new Set(raw.map((f) => f.toLowerCase()));
  const out: string[] = [];
  const add = (name: string, when: boolean) => {
    if (when && !out.includes(name)) out.push(name);
  };
  if (arch === "x64" || arch === "ia32") {
    for (const f of [
      "sse4_2",
      "fma",
      "f16c",
      "avx",
      "avx2",
      "avx512f",
      "avx512bw",
      "avx512_bf16",
    ]) {
      add(f, has.has(f));
    }
    add("avx512_vnni", has.has("avx512_vnni") || has.has("avx512vnni"));
    add("avx_vnni", has.has("avx_vnni"));
    add("amx", has.has("amx_int8") || has.has("amx_tile"));
    add("fp16", has.has("avx512_fp16"));
  } else {
    // Armv8 always has Advanced SIMD even when cpuinfo lists only "asimd"; Armv7 says "neon".
    add("neon", has.has("neon") || has.has("asimd") || arch === "arm64");
    add("asimddp", has.has("asimddp"));
    add("i8mm", has.has("i8mm"));
    add("fp16", has.has("asimdhp") || has.has("fphp"));
    add("bf16", has.has("bf16"));
    add("sve", has.has("sve"));
    add("sve2", has.has("sve2"));
  }
  return out;
}

export interface MemInfo {
  totalBytes: number;
  availableBytes: number;
}

export function parseMeminfo(text: string): MemInfo {
  const kb = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+)\\s*kB`, "m").exec(text);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const total = kb("MemTotal") ?? 0;
  const available = kb("MemAvailable") ?? kb("MemFree") ?? 0;
  return { totalBytes: total, availableBytes: available };
}

/** cgroup v2 `memory.max` ("max" or bytes): a container's real ceiling. */
export function parseCgroupMemoryMax(text: string): number | undefined {
  const t = text.trim();
  if (t === "" || t === "max") return undefined;
  const n = Number(t);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

/** Sysfs cache sizes look like "32K", "1024K", "32768K", "8M". */
export function parseCacheSize(text: string): number | undefined {
  const m = /^(\d+)\s*([KMG]?)/i.exec(text.trim());
  if (!m) return undefined;
  const unit = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase()] ?? 1;
  return Number(m[1]) * unit;
}

const ACCELERATORS: [RegExp, string][] = [
  [/^nvidia\d+$/, "nvidia-gpu"],
  [/^nvhost-(ctrl-gpu|gpu)$/, "nvidia-tegra-gpu"],
  [/^nvhost-nvdla\d*$/, "nvidia-dla"],
  [/^dri\/renderD\d+$/, "gpu-render-node"],
  [/^kfd$/, "amd-rocm"],
  [/^accel\/accel\d+$/, "npu"],
  [/^apex_\d+$/, "coral-edgetpu"],
  [/^hailo\d+$/, "hailo"],
  [/^davinci\d+$/, "ascend-npu"],
  [/^mali\d+$/, "mali-gpu"],
  [/^rknpu$/, "rockchip-npu"],
  [/^vsi_npu|^galcore$/, "vivante-npu"],
];

/** Names under /dev (with "dri/" and "accel/" subpaths) -> accelerator kinds, each listed once. */
export function detectAccelerators(devEntries: readonly string[]): string[] {
  const out: string[] = [];
  for (const e of devEntries) {
    for (const [re, kind] of ACCELERATORS) {
      if (re.test(e) && !out.includes(kind)) out.push(kind);
    }
  }
  return out;
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return "";
  }
}

async function listDev(): Promise<string[]> {
  const top = await readdir("/dev").catch(() => [] as string[]);
  const sub = async (d: string) =>
    (await readdir(`/dev/${d}`).catch(() => [] as string[])).map((n) => `${d}/${n}`);
  return [...top, ...(await sub("dri")), ...(await sub("accel"))];
}

/** Largest CPU cache (usually the shared L3) from sysfs; undefined where sysfs is absent. */
export async function readCacheBytes(): Promise<number | undefined> {
  const base = "/sys/devices/system/cpu/cpu0/cache";
  const dirs = await readdir(base).catch(() => [] as string[]);
  let largest: number | undefined;
  for (const d of dirs.filter((x) => x.startsWith("index"))) {
    const type = (await readText(`${base}/${d}/type`)).trim();
    if (type === "Instruction") continue;
    const size = parseCacheSize(await readText(`${base}/${d}/size`));
    if (size && (!largest || size > largest)) largest = size;
  }
  return largest;
}

export async function readHardwareFacts(): Promise<HardwareFacts> {
  const arch = process.arch;
  const cpu = parseCpuinfo(await readText("/proc/cpuinfo"));
  const mem = parseMeminfo(await readText("/proc/meminfo"));
  const limit = parseCgroupMemoryMax(await readText("/sys/fs/cgroup/memory.max"));
  const total = Math.min(mem.totalBytes || os.totalmem(), limit ?? Number.POSITIVE_INFINITY);
  const free = Math.min(mem.availableBytes || os.freemem(), total);
  return {
    arch,
    cores: os.availableParallelism?.() ?? os.cpus().length,
    ramTotalBytes: total,
    ramFreeBytes: free,
    cpuModel: cpu.model !== "unknown" ? cpu.model : (os.cpus()[0]?.model ?? "unknown"),
    cpuFlags: inferenceFlags(cpu.flags, arch),
    accelerators: detectAccelerators(await listDev()),
    os: `${os.platform()} ${os.release()}`,
    simulated: false,
    deviceClass: "",
  };
}
