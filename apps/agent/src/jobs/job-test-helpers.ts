// What the batch-job integration tests compare a job with: ONNX Runtime itself on the same
// inputs, and every result row of a job read page by page. For *.int.test.ts files only.
import { mnistDataset, type TestControlPlane } from "@edgefleet/control-plane/testing";
import type { JobResultsView } from "@edgefleet/protocol";
import * as ort from "onnxruntime-node";

/** ONNX Runtime's argmax and accuracy on the first `n` inputs of MNIST in a job's order. */
export async function onnxReference(
  model: Uint8Array,
  n: number,
): Promise<{ argmax: number[]; accuracy: number }> {
  const ds = mnistDataset();
  const session = await ort.InferenceSession.create(model);
  const out = await session.run({
    input: new ort.Tensor("float32", ds.inputs.subarray(0, n * 784), [n, 784]),
  });
  await session.release();
  const logits = out[session.outputNames[0]].data as Float32Array;
  const argmax: number[] = [];
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(i * 10, i * 10 + 10);
    const best = row.indexOf(Math.max(...row));
    argmax.push(best);
    if (best === ds.labels![i]) correct++;
  }
  return { argmax, accuracy: correct / n };
}

/** Every result row of job `id`, in input order, `limit` rows a page. */
export async function allJobResults(
  stack: Pick<TestControlPlane, "api">,
  id: string,
  limit = 1000,
): Promise<JobResultsView["rows"]> {
  const rows: JobResultsView["rows"] = [];
  for (let from: number | null = 0; from !== null; ) {
    const page = (await stack.api(`/api/v1/jobs/${id}/results?from=${from}&limit=${limit}`))
      .body as unknown as JobResultsView;
    rows.push(...page.rows);
    from = page.rows.length === 0 ? null : page.next;
  }
  return rows;
}
