// Data loading for pages: one request per key, its loading / error / data states, and a reload.

import type { FleetEvent } from "@edgefleet/protocol";
import { useCallback, useContext, useEffect, useRef, useState } from "preact/hooks";
import { api } from "./api";
import { AppContext } from "./context";

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  /** Replace the data in place (live updates). */
  set: (update: (prev: T | undefined) => T | undefined) => void;
}

export function useApi<T>(path: string | null): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({
    loading: path !== null,
  });
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    if (path === null) return;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    api<T>(path).then(
      (data) => live && setState({ data, loading: false }),
      (error) => live && setState({ error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [path, nonce]);
  const reload = useCallback(() => setNonce((n) => n + 1), []);
  const set = useCallback(
    (update: (prev: T | undefined) => T | undefined) =>
      setState((s) => ({ ...s, data: update(s.data) })),
    [],
  );
  return { data: state.data, error: state.error, loading: state.loading, reload, set };
}

/** Calls `handler` for every live event while the component is mounted. */
export function useFleetEvents(handler: (e: FleetEvent) => void): void {
  const { stream } = useContext(AppContext);
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => stream?.on((e) => ref.current(e)), [stream]);
}

/** Re-renders every `ms` (relative times such as "12 s ago"). */
export function useTick(ms: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/** Sets the document title for the page. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Edgefleet`;
  }, [title]);
}
