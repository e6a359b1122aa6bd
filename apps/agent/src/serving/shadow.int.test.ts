// Shadow mode in the ModelSlot over real ONNX Runtime sessions: which model is kept, what is
// compared, that comparisons come after answers and never hold or fail them, and when the
// shadow is released.
import { createMlp, exportOnnx } from "@edgefleet/compression";
import type { RuntimeOptions } from "@edgefleet/protocol";
import { until } from "@edgefleet/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { InvalidServingModelError } from "./errors";
import {
  ModelSlot,
  type ModelSlotOptions,
  type ServingMeta,
  type ServingModel,
  type ServingObserver,
} from "./model-slot";
import { type LoadedModel, ortRuntime, warmUp } from "./runtime";
import type { ShadowMiss } from "./shadow-plan";
import { gatherTrapModel, reluModel, rotateClasses, sampleInput } from "./test-models";

const runtime = ortRuntime();
const mlp = createMlp([8, 16, 4], 3);
const base = exportOnnx(mlp);
const rotated = exportOnnx(rotateClasses(mlp, 1));
const options: RuntimeOptions = { threads: 1, maxBatch: 16, maxDelayMs: 0, queueLimit: 256 };
let generation = 0;
const slots: ModelSlot[] = [];

/** A real model whose runs and release are logged, and whose runs can be held at a gate. */
interface Probe {
  model: LoadedModel;
  name: string;
  released: boolean;
  runs: number;
  /** While set, runs wait for it before running. */
  gate?: Promise<void>;
}

async function probe(bytes: Uint8Array, name: string, events: string[]): Promise<Probe> {
  const real = await runtime.load(bytes, { threads: 1, disableQuantQdq: false });
  await warmUp(real, 1);
  const p: Probe = { name, released: false, runs: 0, model: real };
  p.model = {
    inputName: real.inputName,
    sampleDims: real.sampleDims,
    outputNames: real.outputNames,
    dynamicBatch: real.dynamicBatch,
    fixedBatch: real.fixedBatch,
    async run(input, batch) {
      events.push(`${name}:run`);
      p.runs++;
      await p.gate;
      try {
        return await real.run(input, batch);
      } finally {
        events.push(`${name}:done`);
      }
    },
    async release() {
      events.push(`${name}:released`);
      p.released = true;
      await real.release();
    },
  };
  return p;
}

function serving(p: Probe, digest = p.name): ServingModel {
  generation++;
  const meta: ServingMeta = {
    variantId: `variant-${p.name}`,
    variantName: p.name,
    generation,
    digest: digest.padEnd(64, "0"),
    kernelType: "fp32",
    simulatedSlowdown: 1,
  };
  return { model: p.model, meta, options };
}

interface Seen {
  events: string[];
  agreed: boolean[];
  missed: ShadowMiss[];
  outcomes: string[];
  shadowErrors: unknown[];
  runFailures: number;
}

function newSlot(over: Partial<ModelSlotOptions> = {}) {
  const seen: Seen = {
    events: [],
    agreed: [],
    missed: [],
    outcomes: [],
    shadowErrors: [],
    runFailures: 0,
  };
  const observer: ServingObserver = {
    onRequest: (_ms, o) => {
      seen.outcomes.push(o);
      seen.events.push(`answered:${o}`);
    },
    onRun: () => {},
    onQueueDepth: () => {},
    onShadow: (a) => seen.agreed.push(a),
    onShadowSkipped: (r) => seen.missed.push(r),
  };
  const slot = new ModelSlot({
    observer,
    onRunFailure: () => seen.runFailures++,
    onShadowError: (err) => seen.shadowErrors.push(err),
    random: () => 0,
    ...over,
  });
  slots.push(slot);
  return { slot, seen };
}

afterEach(async () => {
  await Promise.all(slots.splice(0).map((s) => s.unload().released));
});

const x = (seed: number, samples = 1) => sampleInput(8 * samples, seed);
const compared = (seen: Seen, n: number) =>
  until(`${n} comparisons`, async () =>
    seen.agreed.length + seen.missed.length >= n ? true : undefined,
  );

describe("shadow mode", () => {
  it("keeps the variant that served before and compares every sampled sample on it", async () => {
    const { slot, seen } = newSlot();
    const a = await probe(base, "a", seen.events);
    const b = await probe(base, "b", seen.events); // same weights, another session: agrees
    slot.swap(serving(a));
    const swapped = slot.swap(serving(b), { shadow: { sampleRate: 1 } });
    await swapped.released; // a finished what it admitted: kept, not released
    expect(swapped.shadow?.variantName).toBe("a");
    expect(slot.shadow()?.variantName).toBe("a");
    expect(a.released).toBe(false);
    for (let i = 0; i < 5; i++) {
      await slot.infer(x(i));
      await compared(seen, i + 1);
    }
    const res = await slot.infer(x(9, 3), [3, 8]); // three samples: three comparisons
    expect(res.model.variantName).toBe("b");
    await compared(seen, 8);
    expect(seen.agreed).toEqual(Array(8).fill(true));
    expect(seen.missed).toEqual([]);
  });

  it("a variant whose classes differ disagrees on every sample", async () => {
    const { slot, seen } = newSlot();
    const a = await probe(base, "a", seen.events);
    const r = await probe(rotated, "rotated", seen.events);
    slot.swap(serving(a));
    await slot.swap(serving(r), { shadow: { sampleRate: 1 } }).released;
    for (let i = 0; i < 6; i++) {
      await slot.infer(x(i));
      await compared(seen, i + 1);
    }
    expect(seen.agreed).toEqual(Array(6).fill(false));
  });

  it("compares only requests whose draw is below the sample rate", async () => {
    const draws = [0.5, 0.1, 0.9, 0.29, 0.3, 0.0];
    const { slot, seen } = newSlot({ random: () => draws.shift() ?? 1 });
    const a = await probe(base, "a", seen.events);
    const b = await probe(base, "b", seen.events);
    slot.swap(serving(a));
    await slot.swap(serving(b), { shadow: { sampleRate: 0.3 } }).released;
    const sampled = [false, true, false, true, false, true]; // draws 0.1, 0.29 and 0.0
    let n = 0;
    for (let i = 0; i < 6; i++) {
      await slot.infer(x(i));
      if (sampled[i]) await compared(seen, ++n);
    }
    await new Promise((r) => setTimeout(r, 30));
    expect(seen.agreed).toEqual([true, true, true]);
    expect(seen.missed).toEqual([]);
    expect(a.runs).toBe(3);
  });

  it("answers before the shadow runs, and never waits for it: a held shadow run holds no answer", async () => {
    const { slot, seen } = newSlot();
    const a = await probe(base, "a", seen.events);
    const b = await probe(base, "b", seen.events);
    slot.swap(serving(a));
    await slot.swap(serving(b), { shadow: { sampleRate: 1 } }).released;
    seen.events.length = 0;
    let open = () => {};
    a.gate = new Promise<void>((r) => {
      open = r;
    });
    const first = await slot.infer(x(1)); // answered although its shadow run is about to hang
    expect(first.model.variantName).toBe("b");
    await until("the shadow run started", async () =>
      seen.events.includes("a:run") ? true : undefined,
    );
    // While the shadow run hangs, more requests are answered; their comparisons are skipped.
    for (let i = 0; i < 3; i++) expect((await slot.infer(x(i + 2))).model.variantName).toBe("b");
    expect(seen.agreed).toEqual([]);
    expect(seen.missed).toEqual(["busy", "busy", "busy"]);
    open();
    await compared(seen, 4);
    expect(seen.agreed).toEqual([true]);
    // The order on the slot: b runs, the request is answered, only then the shadow runs.
    expect(seen.events.slice(0, 4)).toEqual(["b:run", "b:done", "answered:ok", "a:run"]);
  });

  it("skips a comparison when the new variant has requests waiting (they go first)", async () => {
    const { slot, seen } = newSlot();
    const a = await probe(base, "a", seen.events);
    const b = await probe(base, "b", seen.events);
    slot.swap(serving(a));
    await slot.swap(serving(b), { shadow: { sampleRate: 1 } }).released;
    const next: Promise<unknown>[] = [];
    await slot.infer(x(1)).then(() => {
      // Queued before the shadow's turn comes: the shadow must not run ahead of it.
      next.push(slot.infer(x(2)));
    });
    await Promise.all(next);
    await compared(seen, 2);
    expect(seen.missed[0]).toBe("primaryBusy");
  });

  it("skips comparisons while the old variant still finishes requests it admitted", async () => {
    const { slot, seen } = newSlot();
    const a = await probe(base, "a", seen.events);
    const b = await probe(base, "b", seen.events);
    slot.swap(serving(a));
    let open = () => {};
    a.gate = new Promise<void>((r) => {
      open = r;
    });
    const admitted = slot.infer(x(1)); // held in a's run
    await until("a running", async () => (a.runs > 0 ? true : undefined));
    const swapped = slot.swap(serving(b), { shadow: { sampleRate: 1 } });
    await slot.infer(x(2));
    expect(seen.missed).toEqual(["draining"]);
    open();
    expect((await admitted).model.variantName).toBe("a");
    await swapped.released;
    a.gate = undefined;
    await slot.infer(x(3));
    await compared(seen, 2);
    expect(seen.agreed).toEqual([true]);
  });

  it("a failing shadow run is no failure of the variant serving", async () => {
    const trapEvents: string[] = [];
    const { slot, seen } = newSlot();
    const relu = await probe(reluModel(), "relu", trapEvents);
    const trap = await probe(gatherTrapModel(), "trap", trapEvents);
    slot.swap(serving(trap));
    await slot.swap(serving(relu), { shadow: { sampleRate: 1 } }).released;
    for (let i = 0; i < 6; i++) {
      // 7 is out of the trap's table: the shadow fails on every one of them.
      const res = await slot.infer(Float32Array.from([7, 7, 7, 7]));
      expect(res.model.variantName).toBe("relu");
      await compared(seen, i + 1);
    }
    expect(seen.missed).toEqual(Array(6).fill("failed"));
    expect(seen.shadowErrors).toHaveLength(6);
    expect(seen.outcomes).toEqual(Array(6).fill("ok"));
    expect(seen.runFailures).toBe(0);
    expect(slot.consecutiveFailures).toBe(0);
  });

  it("is released by a swap without shadow, by unload, and after its comparison in progress", async () => {
    const { slot, seen } = newSlot();
    const a = await probe(base, "a", seen.events);
    const b = await probe(base, "b", seen.events);
    const c = await probe(rotated, "c", seen.events);
    slot.swap(serving(a));
    await slot.swap(serving(b), { shadow: { sampleRate: 1 } }).released;
    // Another variant without shadow: the shadow goes, and b (which served) is retired too.
    await slot.swap(serving(c)).released;
    expect(a.released).toBe(true);
    expect(b.released).toBe(true);
    expect(slot.shadow()).toBeNull();

    // c with shadow, then unload while a comparison hangs: released only once it is over.
    const d = await probe(base, "d", seen.events);
    await slot.swap(serving(d), { shadow: { sampleRate: 1 } }).released;
    expect(slot.shadow()?.variantName).toBe("c");
    let open = () => {};
    c.gate = new Promise<void>((r) => {
      open = r;
    });
    await slot.infer(x(1));
    await until("shadow running", async () => (seen.events.includes("c:run") ? true : undefined));
    const unloaded = slot.unload();
    await new Promise((r) => setTimeout(r, 30));
    expect(c.released).toBe(false);
    open();
    await unloaded.released;
    expect(c.released).toBe(true);
    expect(d.released).toBe(true);
    const cEvents = seen.events.filter((e) => e.startsWith("c:"));
    expect(cEvents.slice(-2)).toEqual(["c:done", "c:released"]);
  });

  it("the same artifact re-applied keeps the shadow it had; nothing before means no shadow", async () => {
    const { slot, seen } = newSlot();
    const first = await probe(base, "b", seen.events);
    const noShadow = slot.swap(serving(first), { shadow: { sampleRate: 1 } });
    expect(noShadow.shadow).toBeNull();
    expect(noShadow.noShadow).toBe("nothing served before this variant");
    const r = await probe(rotated, "r", seen.events);
    await slot.swap(serving(r), { shadow: { sampleRate: 1 } }).released;
    expect(slot.shadow()?.variantName).toBe("b");
    // A new generation of the same artifact r (another session): still compared with b.
    const again = await probe(rotated, "r", seen.events);
    const swapped = slot.swap(serving(again, "r"), { shadow: { sampleRate: 0.5 } });
    await swapped.released;
    expect(swapped.shadow?.variantName).toBe("b");
    expect(r.released).toBe(true);
    expect(first.released).toBe(false);
  });

  it("refuses a sample rate outside (0, 1] and changes nothing", async () => {
    const { slot, seen } = newSlot();
    const a = await probe(base, "a", seen.events);
    const b = await probe(base, "b", seen.events);
    slot.swap(serving(a));
    expect(() => slot.swap(serving(b), { shadow: { sampleRate: 0 } })).toThrow(
      InvalidServingModelError,
    );
    expect(slot.current()?.variantName).toBe("a");
    await b.model.release();
  });
});
