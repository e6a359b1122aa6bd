// Stage models for a placement: the split (packages/onnx) and, for int8 stages, the compression
// package's dynamic quantization of that stage's model. Runs in the control plane.
import { quantizeDynamic } from "@edgefleet/compression";
import { encodeModel, type ModelProto, runtimeInputs, splitModel } from "@edgefleet/onnx";
import type { Placement, Precision } from "./placement";
import { cutsForStages, type SegmentedModel } from "./segments";

export interface BuiltStage {
  index: number;
  precision: Precision;
  bytes: Uint8Array;
  inputName: string;
  outputName: string;
}

export function buildStageModels(
  model: ModelProto,
  seg: SegmentedModel,
  placement: Pick<Placement, "stages">,
): BuiltStage[] {
  const { models } = splitModel(model, cutsForStages(seg, placement.stages));
  return models.map((m, index) => {
    const precision = placement.stages[index].precision;
    const stage = precision === "int8" ? quantizeDynamic(m) : m;
    const g = stage.graph ?? {};
    return {
      index,
      precision,
      bytes: encodeModel(stage),
      inputName: runtimeInputs(g)[0]?.name ?? "",
      outputName: g.output?.[0]?.name ?? "",
    };
  });
}
