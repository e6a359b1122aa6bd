// A model seen as the segments between its candidate cuts: what placement reasons about.
import {
  findCutCandidates,
  inferShapes,
  type ModelProto,
  requireGraph,
  runtimeInputs,
  topoSort,
} from "@edgefleet/onnx";
import type { Segment } from "./placement";

export interface SegmentedModel {
  segments: Segment[];
  /** cutTensors[i] is the tensor between segment i and i+1. */
  cutTensors: string[];
}

function sampleBytes(dims: (number | string)[] | undefined): number {
  if (!dims) return 0;
  return dims.slice(1).reduce<number>((a, d) => a * (typeof d === "number" ? d : 1), 1) * 4;
}

export function segmentModel(model: ModelProto): SegmentedModel {
  const graph = requireGraph(model);
  const { candidates, totalParamBytes, totalFlops } = findCutCandidates(model);
  const shapes = inferShapes(graph, {}, { lenient: true });
  const nodeCount = topoSort(graph).length;
  const inputBytes = sampleBytes(shapes.get(runtimeInputs(graph)[0]?.name ?? "")?.dims);
  const outputBytes = (graph.output ?? []).reduce(
    (t, o) => t + sampleBytes(shapes.get(o.name ?? "")?.dims),
    0,
  );
  const bounds = [
    { after: 0, flops: 0, params: 0, bytes: inputBytes },
    ...candidates.map((c) => ({
      after: c.after,
      flops: c.flopsBefore,
      params: c.paramBytesBefore,
      bytes: (c.elementsPerSample ?? 0) * 4,
    })),
    { after: nodeCount, flops: totalFlops, params: totalParamBytes, bytes: outputBytes },
  ];
  const segments: Segment[] = [];
  for (let i = 1; i < bounds.length; i++) {
    const a = bounds[i - 1];
    const b = bounds[i];
    segments.push({
      name: `layer ${i}`,
      flops: b.flops - a.flops,
      weightBytes: b.params - a.params,
      opCount: b.after - a.after,
      inputBytes: a.bytes,
      outputBytes: b.bytes,
    });
  }
  return { segments, cutTensors: candidates.map((c) => c.tensor) };
}

/** The cut tensors of a placement: one after each stage but the last. */
export function cutsForStages(
  seg: SegmentedModel,
  stages: readonly { lastSegment: number }[],
): string[][] {
  return stages.slice(0, -1).map((s) => [seg.cutTensors[s.lastSegment]]);
}
