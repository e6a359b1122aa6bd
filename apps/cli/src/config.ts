// Where the CLI finds its control plane: flags, then environment, then the config file written by
// `edgefleet login`, then the local stack (`npm start`). Pure: main.ts reads the environment and
// the files, this decides.

export const LOCAL_STACK_URL = "http://127.0.0.1:8080";
/** Relative to the working directory: where `npm start` writes its admin token. */
export const LOCAL_STACK_TOKEN_FILE = ".edgefleet/control-plane/admin-token";

/** The environment variables the CLI reads (main.ts reads them once). */
export interface CliEnv {
  EDGEFLEET_URL?: string;
  EDGEFLEET_TOKEN?: string;
  EDGEFLEET_CONFIG?: string;
  XDG_CONFIG_HOME?: string;
  HOME?: string;
}

/** What `edgefleet login` writes (JSON, mode 0600). */
export interface ConfigFile {
  url: string;
  token: string;
}

export type Source = "flag" | "env" | "config" | "local-stack" | "default";

export interface ConnectionSources {
  flags: { url?: string; token?: string };
  env: CliEnv;
  /** The config file's content, when there is one. */
  file?: ConfigFile;
  /** The local stack's admin token, when its file exists. */
  localStackToken?: string;
}

export type Resolved =
  | { ok: true; url: string; token: string; urlFrom: Source; tokenFrom: Source }
  | { ok: false; url: string; message: string };

/** `$EDGEFLEET_CONFIG`, else `$XDG_CONFIG_HOME/edgefleet/config.json`, else under `~/.config`. */
export function configPath(env: CliEnv): string {
  if (env.EDGEFLEET_CONFIG) return env.EDGEFLEET_CONFIG;
  const base = env.XDG_CONFIG_HOME || (env.HOME ? `${env.HOME}/.config` : ".config");
  return `${base}/edgefleet/config.json`;
}

export function normalizeUrl(url: string): string {
  return url.trim().replace(/\/+$/, "");
}

/**
 * Flags > environment > config file > local stack, field by field, with one exception: a saved
 * token (config file, local stack) goes only to the URL it was saved for, so pointing the CLI
 * at another control plane never hands it this one's secret.
 */
export function resolveConnection(s: ConnectionSources): Resolved {
  const pick = (flag?: string, env?: string, file?: string): [string, Source] | undefined => {
    if (flag) return [flag, "flag"];
    if (env) return [env, "env"];
    if (file) return [file, "config"];
    return undefined;
  };
  const [rawUrl, urlFrom] = pick(s.flags.url, s.env.EDGEFLEET_URL, s.file?.url) ?? [
    LOCAL_STACK_URL,
    "default" as const,
  ];
  const url = normalizeUrl(rawUrl);
  if (s.flags.token) return { ok: true, url, token: s.flags.token, urlFrom, tokenFrom: "flag" };
  if (s.env.EDGEFLEET_TOKEN) {
    return { ok: true, url, token: s.env.EDGEFLEET_TOKEN, urlFrom, tokenFrom: "env" };
  }
  if (s.file && normalizeUrl(s.file.url) === url) {
    return { ok: true, url, token: s.file.token, urlFrom, tokenFrom: "config" };
  }
  if (s.localStackToken && url === LOCAL_STACK_URL) {
    return { ok: true, url, token: s.localStackToken, urlFrom, tokenFrom: "local-stack" };
  }
  const saved = s.file ? ` (the config file's token is for ${normalizeUrl(s.file.url)})` : "";
  return {
    ok: false,
    url,
    message: `no API token for ${url}${saved}: pass --token, set EDGEFLEET_TOKEN, or run edgefleet login --url ${url} --token <token>`,
  };
}

/** A config file's content, checked; the error says which file and what is wrong. */
export function parseConfigFile(path: string, text: string): ConfigFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error(`${path}: is not valid JSON (rewrite it with edgefleet login)`);
  }
  const o = raw as Partial<ConfigFile> | null;
  if (!o || typeof o.url !== "string" || typeof o.token !== "string" || !o.url || !o.token) {
    throw new Error(`${path}: needs "url" and "token" strings (rewrite it with edgefleet login)`);
  }
  return { url: o.url, token: o.token };
}

/** `--url` must be an http(s) URL; the error names the flag. */
export function checkUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--url: "${url}" is not a URL (e.g. http://127.0.0.1:8080)`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new Error(`--url: must be http:// or https://, not ${u.protocol}`);
  }
  return normalizeUrl(url);
}
