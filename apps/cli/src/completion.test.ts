import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { Argument, Command, Option } from "commander";
import { describe, expect, it } from "vitest";
import { bashScript, commandSpec, flatten, zshScript } from "./completion";
import { createCli } from "./context";
import { buildProgram } from "./program";

function tiny(): Command {
  const p = new Command("tool");
  const things = p.command("things").description("Things");
  things
    .command("list")
    .description("List them")
    .addOption(new Option("--status <s>", "by status").choices(["up", "down"]))
    .option("--json", "print JSON");
  things.command("secret", { hidden: true });
  p.command("shell")
    .description("Print a script")
    .addArgument(new Argument("<shell>").choices(["bash", "zsh"]))
    .option("--url <url>", "where");
  return p;
}

describe("commandSpec", () => {
  it("walks the visible tree: subcommands, options with values and choices, argument choices", () => {
    const flat = flatten(commandSpec(tiny()));
    expect(flat.map((e) => e.path)).toEqual(["", "things", "things list", "shell"]);
    const list = flat.find((e) => e.path === "things list")!.spec;
    expect(list.options).toEqual([
      { flags: ["--status"], description: "by status", takesValue: true, choices: ["up", "down"] },
      { flags: ["--json"], description: "print JSON", takesValue: false },
      { flags: ["-h", "--help"], description: "display help for command", takesValue: false },
    ]);
    expect(flat.find((e) => e.path === "shell")!.spec.argumentChoices).toEqual(["bash", "zsh"]);
  });

  it("puts every path, option and choice into both scripts", () => {
    const spec = commandSpec(tiny());
    for (const script of [bashScript(spec), zshScript(spec)]) {
      expect(script).toContain(`'things') echo 'list'`);
      expect(script).toContain(`'things list|--status') echo 'up down'`);
      expect(script).toContain(`'shell|--url') echo '__value__'`);
      expect(script).not.toContain("secret");
    }
    expect(zshScript(spec)).toContain(`'list:List them'`);
    expect(zshScript(spec)).toMatch(/^#compdef tool/);
    expect(bashScript(spec)).toMatch(/complete -o default -F _tool_complete tool\n$/);
  });

  it("quotes descriptions for the shell", () => {
    const p = new Command("t");
    p.command("x").description("it's $(rm -rf) `here`");
    expect(zshScript(commandSpec(p))).toContain(`'x:it'\\''s $(rm -rf) \`here\`'`);
  });
});

describe("the edgefleet tree", () => {
  const program = buildProgram(createCli({}));
  const flat = flatten(commandSpec(program));

  it("has --json on every command that does something", () => {
    // Groups (devices, models, tokens, rollout, the root) only hold subcommands.
    const actions = flat.filter((e) => e.spec.options.some((o) => o.flags[0] !== "-h"));
    expect(actions.length).toBeGreaterThan(25);
    const missing = actions
      .filter((e) => !e.spec.options.some((o) => o.flags.includes("--json")))
      .map((e) => e.path);
    expect(missing).toEqual([]);
  });

  it.each([
    ["edgefleet d", "devices"],
    ["edgefleet devices l", "label list"],
    ["edgefleet devices list --st", "--status"],
    ["edgefleet devices list --status o", "offline online"],
    ["edgefleet --url http://x devices s", "show"],
    ["edgefleet rollout pa", "pause"],
    ["edgefleet completion ", "bash zsh"],
    ["edgefleet telemetry --by ", "class device"],
    ["edgefleet tokens create --max", "--max-uses"],
    ["edgefleet api-tokens ", "create list revoke"],
    ["edgefleet api-tokens create --role ", "admin operator viewer"],
    ["edgefleet audit --a", "--action --actor"],
  ])("bash completes %j with %j", (line, expected) => {
    const words = line.split(" ");
    const script = bashScript(commandSpec(program));
    const r = spawnSync(
      "bash",
      [
        "-c",
        `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _edgefleet_complete; printf '%s\\n' "\${COMPREPLY[@]}" | sort | tr '\\n' ' '`,
      ],
      { encoding: "utf8" },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe(expected);
  });

  // zsh's completion system needs a terminal; its builtins are stubbed to print what they get.
  it.skipIf(!existsSync("/usr/bin/zsh")).each([
    ["edgefleet devices l", /^describe command: list:Devices with .* label:Set and remove/],
    ["edgefleet devices list --status ", /^compadd: enrolled online offline$/],
    ["edgefleet completion ", /compadd: bash zsh$/],
    ["edgefleet login --url ", /^files$/],
  ])("zsh completes %j", (line, expected) => {
    const words = line.split(" ");
    const script = zshScript(commandSpec(program));
    const stubs = [
      "compdef() { :; }",
      `_describe() { local arr=$2; print -r -- "describe $1: \${(P)arr}"; }`,
      `compadd() { print -r -- "compadd: \${reply[@]}"; }`,
      "_files() { print files; }",
    ].join("\n");
    const call = `words=(${words.map((w) => `'${w}'`).join(" ")}); CURRENT=${words.length}; _edgefleet`;
    const r = spawnSync("/usr/bin/zsh", ["-fc", `${stubs}\n${script}\n${call}`], {
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toMatch(expected);
  });
});
