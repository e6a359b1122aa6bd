// What a pipeline's status allows (no IO): stopping it, and sending it a request.

/** Why a pipeline cannot be stopped (only a running one can), or null when it can. */
export function stopRefusal(status: string): string | null {
  if (status === "running") return null;
  if (status === "stopped") return "the pipeline is already stopped";
  return `the pipeline is ${status}: there is nothing to stop`;
}

/**
 * Why a request is refused: a stopped pipeline is a conflict (an operator's doing, 409), a failed
 * one unavailable (503, with its error). null: it may be served.
 */
export function inferRefusal(
  status: string,
  error: string | null,
): { kind: "conflict" | "unavailable"; message: string } | null {
  if (status === "running") return null;
  if (status === "stopped") return { kind: "conflict", message: "pipeline is stopped" };
  return { kind: "unavailable", message: `pipeline is ${status}: ${error ?? ""}`.trim() };
}
