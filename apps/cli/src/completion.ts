// `edgefleet completion bash|zsh`: shell completion generated from the commander tree, so a new
// command or option completes without anyone editing a list. Pure: a Command in, a script out.
import type { Command } from "commander";

export interface OptionSpec {
  flags: string[];
  description: string;
  /** Takes a value (`--url <url>`); its choices when commander knows them. */
  takesValue: boolean;
  choices?: string[];
}

export interface CommandSpec {
  name: string;
  description: string;
  options: OptionSpec[];
  /** Choices of positional arguments (`completion <bash|zsh>`), when commander knows them. */
  argumentChoices: string[];
  subcommands: CommandSpec[];
}

/** The visible tree (hidden commands and options left out), as commander's help shows it. */
export function commandSpec(cmd: Command): CommandSpec {
  const help = cmd.createHelp();
  return {
    name: cmd.name(),
    description: cmd.description(),
    options: help.visibleOptions(cmd).map((o) => ({
      flags: [o.short, o.long].filter((f): f is string => Boolean(f)),
      description: o.description,
      takesValue: o.required || o.optional,
      ...(o.argChoices ? { choices: [...o.argChoices] } : {}),
    })),
    argumentChoices: cmd.registeredArguments.flatMap((a) => a.argChoices ?? []),
    subcommands: help
      .visibleCommands(cmd)
      // commander's implicit `help` command carries no spec of its own.
      .filter((c) => c.name() !== "help" || c.commands.length > 0 || c.options.length > 0)
      .map(commandSpec),
  };
}

interface Entry {
  path: string;
  spec: CommandSpec;
}

/** Every command with its path below the root ("" for the root, "devices list", ...). */
export function flatten(root: CommandSpec): Entry[] {
  const out: Entry[] = [];
  const walk = (spec: CommandSpec, path: string) => {
    out.push({ path, spec });
    for (const sub of spec.subcommands) walk(sub, path ? `${path} ${sub.name}` : sub.name);
  };
  walk(root, "");
  return out;
}

const VALUE = "__value__";

/** Single-quoted for sh: nothing inside expands. */
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function valueCases(entries: Entry[]): string[] {
  const lines: string[] = [];
  for (const { path, spec } of entries) {
    for (const o of spec.options) {
      if (!o.takesValue) continue;
      const words = o.choices?.join(" ") ?? VALUE;
      for (const f of o.flags) lines.push(`    ${sq(`${path}|${f}`)}) echo ${sq(words)} ;;`);
    }
  }
  return lines;
}

/** The walk over the words typed so far, shared by both shells (they differ in indexing). */
function walker(prog: string, words: string, first: number, current: string): string {
  return [
    `  local cmdpath="" i w subs skip=0`,
    `  for ((i = ${first}; i < ${current}; i++)); do`,
    `    w="${words}[i]}"`,
    `    if ((skip)); then skip=0; continue; fi`,
    `    if [[ "$w" == -* ]]; then`,
    `      [[ -n "$(_${prog}_values "$cmdpath" "$w")" ]] && skip=1`,
    `      continue`,
    `    fi`,
    `    subs=" $(_${prog}_subs "$cmdpath") "`,
    `    [[ "$subs" == *" $w "* ]] && cmdpath="\${cmdpath:+$cmdpath }$w"`,
    `  done`,
  ].join("\n");
}

function lookups(prog: string, entries: Entry[]): string {
  const cases = (fn: (e: Entry) => string) =>
    entries.map((e) => `    ${sq(e.path)}) echo ${sq(fn(e))} ;;`).join("\n");
  return [
    `_${prog}_subs() {`,
    `  case "$1" in`,
    cases((e) => e.spec.subcommands.map((s) => s.name).join(" ")),
    `  esac`,
    `}`,
    `_${prog}_opts() {`,
    `  case "$1" in`,
    cases((e) => e.spec.options.flatMap((o) => o.flags).join(" ")),
    `  esac`,
    `}`,
    `_${prog}_args() {`,
    `  case "$1" in`,
    cases((e) => e.spec.argumentChoices.join(" ")),
    `  esac`,
    `}`,
    `# An option's choices, ${VALUE} when it takes a free value, nothing for a switch.`,
    `_${prog}_values() {`,
    `  case "$1|$2" in`,
    ...valueCases(entries),
    `  esac`,
    `}`,
  ].join("\n");
}

export function bashScript(root: CommandSpec): string {
  const prog = root.name.replace(/[^A-Za-z0-9_]/g, "_");
  const entries = flatten(root);
  return [
    `# bash completion for ${root.name}: source <(${root.name} completion bash)`,
    `# (generated from the command tree; regenerate after upgrading ${root.name})`,
    lookups(prog, entries),
    `_${prog}_complete() {`,
    `  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"`,
    walker(prog, "${COMP_WORDS", 1, "COMP_CWORD"),
    `  if ((COMP_CWORD > 1)) && [[ "$prev" == -* ]]; then`,
    `    local vals; vals="$(_${prog}_values "$cmdpath" "$prev")"`,
    `    # A free value (a URL, an id, a file): leave it to bash's default completion.`,
    `    if [[ "$vals" == ${VALUE} ]]; then COMPREPLY=(); return; fi`,
    `    if [[ -n "$vals" ]]; then COMPREPLY=($(compgen -W "$vals" -- "$cur")); return; fi`,
    `  fi`,
    `  if [[ "$cur" == -* ]]; then`,
    `    COMPREPLY=($(compgen -W "$(_${prog}_opts "$cmdpath")" -- "$cur"))`,
    `  else`,
    `    COMPREPLY=($(compgen -W "$(_${prog}_subs "$cmdpath") $(_${prog}_args "$cmdpath")" -- "$cur"))`,
    `  fi`,
    `}`,
    `complete -o default -F _${prog}_complete ${root.name}`,
    "",
  ].join("\n");
}

/** `name:description` for zsh's _describe (a colon in the name is escaped). */
const described = (name: string, description: string) =>
  sq(`${name.replace(/:/g, "\\:")}:${description.split("\n")[0]}`);

export function zshScript(root: CommandSpec): string {
  const prog = root.name.replace(/[^A-Za-z0-9_]/g, "_");
  const entries = flatten(root);
  const arrays = (fn: (e: Entry) => string[]) =>
    entries.map((e) => `    ${sq(e.path)}) reply=(${fn(e).join(" ")}) ;;`).join("\n");
  return [
    `#compdef ${root.name}`,
    `# zsh completion for ${root.name}: source <(${root.name} completion zsh), or save it as _${root.name} on $fpath`,
    `# (generated from the command tree; regenerate after upgrading ${root.name})`,
    lookups(prog, entries),
    `_${prog}_described_subs() {`,
    `  case "$1" in`,
    arrays((e) => e.spec.subcommands.map((s) => described(s.name, s.description))),
    `  esac`,
    `}`,
    `_${prog}_described_opts() {`,
    `  case "$1" in`,
    arrays((e) => e.spec.options.flatMap((o) => o.flags.map((f) => described(f, o.description)))),
    `  esac`,
    `}`,
    `_${prog}() {`,
    `  local cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}"`,
    `  local -a reply`,
    walker(prog, "${words", 2, "CURRENT"),
    `  if ((CURRENT > 2)) && [[ "$prev" == -* ]]; then`,
    `    local vals; vals="$(_${prog}_values "$cmdpath" "$prev")"`,
    `    if [[ "$vals" == ${VALUE} ]]; then _files; return; fi`,
    `    if [[ -n "$vals" ]]; then reply=(\${=vals}); compadd -a reply; return; fi`,
    `  fi`,
    `  if [[ "$cur" == -* ]]; then`,
    `    _${prog}_described_opts "$cmdpath"; _describe 'option' reply`,
    `  else`,
    `    _${prog}_described_subs "$cmdpath"; _describe 'command' reply`,
    `    local args; args="$(_${prog}_args "$cmdpath")"`,
    `    if [[ -n "$args" ]]; then reply=(\${=args}); compadd -a reply; fi`,
    `  fi`,
    `}`,
    `compdef _${prog} ${root.name}`,
    "",
  ].join("\n");
}
