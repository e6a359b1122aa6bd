// A rollout's life: which operator actions and controller outcomes are allowed from which state.
import type { RolloutControlAction, RolloutState } from "@edgefleet/protocol/rest";

export type { RolloutState };

export type RolloutAction =
  | "start"
  | "pause"
  | "resume"
  | "abort"
  | "rollback"
  | "halt"
  | "complete";

const NEXT: Record<RolloutState, Partial<Record<RolloutAction, RolloutState>>> = {
  pending: { start: "running", abort: "aborted" },
  running: {
    pause: "paused",
    abort: "aborted",
    rollback: "rolled_back",
    halt: "halted",
    complete: "completed",
  },
  paused: { resume: "running", abort: "aborted", rollback: "rolled_back" },
  // After a halt the wave's devices are back on what they ran; resume retries the wave.
  halted: { resume: "running", abort: "aborted", rollback: "rolled_back" },
  completed: { rollback: "rolled_back" },
  aborted: { rollback: "rolled_back" },
  rolled_back: {},
};

export class RolloutTransitionError extends Error {
  override name = "RolloutTransitionError";
}

/** The state after `action`, or a RolloutTransitionError saying what is allowed instead. */
export function transition(from: RolloutState, action: RolloutAction): RolloutState {
  const to = NEXT[from][action];
  if (!to) {
    const allowed = Object.keys(NEXT[from]);
    throw new RolloutTransitionError(
      `cannot ${action} a rollout that is ${from.replace("_", " ")}${allowed.length ? ` (it can: ${allowed.join(", ")})` : ""}`,
    );
  }
  return to;
}

/** Rollouts whose assignments the controller keeps acting on (waves, late joiners). */
export function isActive(state: RolloutState): boolean {
  return state === "running";
}

/** Rollouts whose selector still brings late-joining devices their assignment. */
export function admitsLateJoiners(state: RolloutState): boolean {
  return state === "running" || state === "completed";
}

const OPERATOR_ACTIONS: readonly RolloutControlAction[] = [
  "start",
  "pause",
  "resume",
  "abort",
  "rollback",
];

/** What an operator may ask of a rollout in this state (what the console offers as buttons). */
export function operatorActions(state: RolloutState): RolloutControlAction[] {
  const next = NEXT[state] ?? {};
  return OPERATOR_ACTIONS.filter((a) => next[a] !== undefined);
}
