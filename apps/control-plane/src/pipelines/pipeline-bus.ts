// NATS adapter of pipeline-split inference: stage assignments and echoes on the device's rpc
// subject, inputs into stage 1, results from the last stage. The service sees only this interface.
import {
  ACTIVATION_HEADERS,
  decodeDims,
  encodeDims,
  encodeJson,
  PIPELINE_OPS,
  type PipelineAssignReply,
  type PipelineStageAssignment,
  subjects,
} from "@edgefleet/protocol";
import { headers, type NatsConnection } from "@nats-io/transport-node";
import type { EchoRpc } from "./link-probe";

export interface StageResult {
  /** The device that published it (the subject's token: NATS permissions make it authentic). */
  deviceId: string;
  pipelineId: string;
  requestId: string;
  planVersion: number;
  dims: number[] | undefined;
  data: Float32Array;
  error: string | undefined;
}

export interface StageInput {
  deviceId: string;
  pipelineId: string;
  planVersion: number;
  requestId: string;
  deadline: number;
  dims: readonly number[];
  data: Float32Array;
}

export interface PipelineBus extends EchoRpc {
  assign(
    deviceId: string,
    a: PipelineStageAssignment,
    timeoutMs: number,
  ): Promise<PipelineAssignReply>;
  sendInput(input: StageInput): void;
  /** Every stage result of every pipeline; returns the unsubscribe. */
  onResult(listener: (r: StageResult) => void): () => void;
}

export function natsPipelineBus(nc: NatsConnection): PipelineBus {
  return {
    async echo(deviceId, payload, timeoutMs) {
      const m = await nc.request(subjects.rpc(deviceId, PIPELINE_OPS.echo), payload, {
        timeout: timeoutMs,
      });
      return m.data;
    },
    async assign(deviceId, a, timeoutMs) {
      const m = await nc.request(subjects.rpc(deviceId, PIPELINE_OPS.assign), encodeJson(a), {
        timeout: timeoutMs,
      });
      return JSON.parse(m.string()) as PipelineAssignReply;
    },
    sendInput(i) {
      const h = headers();
      h.set(ACTIVATION_HEADERS.pipeline, i.pipelineId);
      h.set(ACTIVATION_HEADERS.plan, String(i.planVersion));
      h.set(ACTIVATION_HEADERS.request, i.requestId);
      h.set(ACTIVATION_HEADERS.deadline, String(i.deadline));
      h.set(ACTIVATION_HEADERS.dims, encodeDims(i.dims));
      const bytes = new Uint8Array(i.data.buffer, i.data.byteOffset, i.data.byteLength);
      nc.publish(subjects.rpc(i.deviceId, PIPELINE_OPS.input), bytes, { headers: h });
    },
    onResult(listener) {
      const sub = nc.subscribe(subjects.anyPipelineResult, {
        callback: (_err, m) => {
          const [, , , deviceId, , pipelineId] = m.subject.split(".");
          const h = m.headers;
          const data = new Float32Array(new Uint8Array(m.data).buffer);
          listener({
            deviceId,
            pipelineId,
            requestId: h?.get(ACTIVATION_HEADERS.request) ?? "",
            planVersion: Number(h?.get(ACTIVATION_HEADERS.plan)),
            dims: decodeDims(h?.get(ACTIVATION_HEADERS.dims)),
            data,
            error: h?.get(ACTIVATION_HEADERS.error) || undefined,
          });
        },
      });
      return () => sub.unsubscribe();
    },
  };
}
