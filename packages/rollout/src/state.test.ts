import { describe, expect, it } from "vitest";
import {
  operatorActions,
  type RolloutAction,
  type RolloutState,
  RolloutTransitionError,
  transition,
} from "./state";

describe("transition", () => {
  it.each([
    ["pending", "start", "running"],
    ["running", "pause", "paused"],
    ["paused", "resume", "running"],
    ["running", "halt", "halted"],
    ["halted", "resume", "running"],
    ["halted", "rollback", "rolled_back"],
    ["running", "complete", "completed"],
    ["completed", "rollback", "rolled_back"],
    ["running", "abort", "aborted"],
    ["aborted", "rollback", "rolled_back"],
  ] as [RolloutState, RolloutAction, RolloutState][])("%s + %s -> %s", (from, action, to) => {
    expect(transition(from, action)).toBe(to);
  });

  it.each([
    ["pending", "pause", "cannot pause a rollout that is pending (it can: start, abort)"],
    ["completed", "resume", "cannot resume a rollout that is completed (it can: rollback)"],
    ["rolled_back", "start", "cannot start a rollout that is rolled back"],
  ] as [RolloutState, RolloutAction, string][])("refuses %s + %s", (from, action, message) => {
    expect(() => transition(from, action)).toThrow(RolloutTransitionError);
    expect(() => transition(from, action)).toThrow(message);
  });
});

describe("operatorActions", () => {
  it.each([
    ["pending", ["start", "abort"]],
    ["running", ["pause", "abort", "rollback"]],
    ["paused", ["resume", "abort", "rollback"]],
    ["halted", ["resume", "abort", "rollback"]],
    ["completed", ["rollback"]],
    ["aborted", ["rollback"]],
    ["rolled_back", []],
  ] as [RolloutState, string[]][])("%s -> %j (never the controller's halt or complete)", (s, a) => {
    expect(operatorActions(s)).toEqual(a);
  });
});
