import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { packModel, unpackModel } from "@edgefleet/artifact";
import { DataType, GraphBuilder } from "@edgefleet/onnx";
import { beforeAll, describe, expect, it } from "vitest";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "bin", "edgefleet.mjs");

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tinyModel(op = "MatMul"): Uint8Array {
  const b = new GraphBuilder();
  b.input("x", DataType.FLOAT, ["N", 32]);
  let s = 7;
  const rand = (n: number) =>
    Float32Array.from({ length: n }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 4294967296 - 0.5;
    });
  b.initializer("w1", DataType.FLOAT, [32, 48], rand(32 * 48));
  b.initializer("b1", DataType.FLOAT, [48], rand(48));
  b.initializer("w2", DataType.FLOAT, [48, 6], rand(48 * 6));
  const [h] =
    op === "MatMul"
      ? b.node("MatMul", ["x", "w1"])
      : b.node(op, ["x", "w1"], 1, { name: "odd_node" });
  const [a] = b.node("Add", [h, "b1"]);
  const [r] = b.node("Relu", [a]);
  b.node("MatMul", [r, "w2"], ["y"]);
  b.output("y", DataType.FLOAT, ["N", 6]);
  return b.toBytes();
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "ef-cli-"));
  await writeFile(join(dir, "tiny.onnx"), tinyModel());
  await writeFile(join(dir, "einsum.onnx"), tinyModel("Einsum"));
  await writeFile(join(dir, "junk.onnx"), "definitely not protobuf\n");
  const sample = Array.from({ length: 32 }, (_, i) => i / 32);
  await writeFile(
    join(dir, "calib.json"),
    JSON.stringify({ sampleDims: [32], samples: [sample, sample.map((v) => 1 - v)] }),
  );
  await writeFile(
    join(dir, "wrong.json"),
    JSON.stringify({ sampleDims: [28], samples: [new Array(28).fill(0)] }),
  );
});

describe("edgefleet compress", () => {
  it("documents every option in --help", () => {
    const r = cli("compress", "--help");
    expect(r.code).toBe(0);
    for (const opt of [
      "--model",
      "--data",
      "--out",
      "--max-drop",
      "--max-bytes",
      "--max-latency",
      "--recipes",
      "--json",
      "unpack",
    ]) {
      expect(r.stdout).toContain(opt);
    }
  });

  it("builds a fidelity catalogue for an external ONNX file", async () => {
    const out = join(dir, "cat-external");
    const r = cli(
      "compress",
      "--model",
      join(dir, "tiny.onnx"),
      "--data",
      join(dir, "calib.json"),
      "--out",
      out,
      "--recipes",
      "int8-dynamic,int4",
      "--latency-iterations",
      "3",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/int8-dynamic/);
    expect(r.stdout).toMatch(/agree %/);
    const cat = JSON.parse(await readFile(join(out, "catalogue.json"), "utf8"));
    expect(cat.schemaVersion).toBe(1);
    expect(cat.variants.map((v: { id: string }) => v.id)).toEqual(["fp32", "int8-dynamic", "int4"]);
    expect((await readdir(out)).sort()).toEqual([
      "catalogue.json",
      "fp32.onnx",
      "int4.onnx",
      "int8-dynamic.onnx",
    ]);
  });

  it("prints the catalogue as JSON with --json", () => {
    const r = cli(
      "compress",
      "--model",
      join(dir, "tiny.onnx"),
      "--data",
      "synthetic:8",
      "--out",
      join(dir, "cat-json"),
      "--recipes",
      "fp16-weights",
      "--latency-iterations",
      "2",
      "--json",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).variants[1].id).toBe("fp16-weights");
  });

  it("trains and compresses the built-in MNIST model", () => {
    const r = cli(
      "compress",
      "--model",
      "builtin:mnist-mlp",
      "--data",
      "mnist",
      "--out",
      join(dir, "cat-mnist"),
      "--epochs",
      "1",
      "--recipes",
      "int8-static-minmax",
      "--test-samples",
      "300",
      "--calibration-samples",
      "100",
      "--latency-iterations",
      "3",
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/acc %/);
    expect(r.stdout).toMatch(/QGemm/);
  }, 120_000);

  it.each([
    [
      "a missing model file",
      ["--model", "/nope/missing.onnx", "--data", "synthetic:4"],
      /model file not found/,
    ],
    [
      "bytes that are not ONNX",
      ["--model", "junk.onnx", "--data", "synthetic:4"],
      /not an ONNX model/,
    ],
    [
      "an unsupported op",
      ["--model", "einsum.onnx", "--data", "synthetic:4"],
      /unsupported op Einsum at node "odd_node"/,
    ],
    [
      "a dataset of the wrong shape",
      ["--model", "tiny.onnx", "--data", "wrong.json"],
      /expects \[32\]/,
    ],
    [
      "an unknown recipe",
      ["--model", "tiny.onnx", "--data", "synthetic:4", "--recipes", "magic"],
      /unknown recipe "magic"/,
    ],
  ])("fails in one line on %s and leaves no output", async (_, args, message) => {
    const out = join(dir, `bad-${Math.random().toString(36).slice(2)}`);
    const resolved = args.map((a) =>
      (a.endsWith(".onnx") || a.endsWith(".json")) && !a.startsWith("/") ? join(dir, a) : a,
    );
    const r = cli("compress", ...resolved, "--out", out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    const left = (await readdir(dir)).filter((f) => f.includes(out.split("/").pop() ?? ""));
    expect(left).toEqual([]);
  });
});

describe("edgefleet compress unpack", () => {
  it("turns a packed artifact back into the ONNX model", async () => {
    const packed = packModel(tinyModel(), { codec: "gzip" });
    await writeFile(join(dir, "m.efpk"), packed);
    const r = cli("compress", "unpack", join(dir, "m.efpk"), join(dir, "m.onnx"));
    expect(r.code, r.stderr).toBe(0);
    expect(new Uint8Array(await readFile(join(dir, "m.onnx")))).toEqual(unpackModel(packed));
  });

  it("refuses a file that is neither packed nor ONNX", async () => {
    const r = cli("compress", "unpack", join(dir, "junk.onnx"), join(dir, "never.onnx"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/neither a packed model nor ONNX/);
    expect((await readdir(dir)).includes("never.onnx")).toBe(false);
  });
});
