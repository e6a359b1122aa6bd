// The API token lives in sessionStorage: gone when the tab closes, never in a URL or a cookie
// (so it is not sent with requests it was not meant for, nor logged by a proxy).
import type { MeView } from "@edgefleet/protocol/rest";

const TOKEN_KEY = "edgefleet.token";
const ME_KEY = "edgefleet.me";

export const session = {
  token(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  me(): MeView | null {
    const raw = sessionStorage.getItem(ME_KEY);
    try {
      return raw ? (JSON.parse(raw) as MeView) : null;
    } catch {
      return null;
    }
  },
  save(token: string, me: MeView): void {
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(ME_KEY, JSON.stringify(me));
  },
  clear(): void {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(ME_KEY);
  },
};
