// Loading, error and empty states, the same on every page.
import type { ComponentChildren } from "preact";
import { errorText } from "../lib/api";

export function Loading({ what }: { what: string }) {
  return (
    <p class="state loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div class="state error" role="alert">
      <p>
        <strong>Could not load this.</strong> {errorText(error)}
      </p>
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="state empty">{children}</div>;
}

export function Notice({ kind, children }: { kind: "ok" | "error"; children: ComponentChildren }) {
  return (
    <div class={`notice ${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}

/** A form's refusal: the field the control plane named, then what was wrong. */
export function FormError({ error }: { error: { field?: string; message: string } | null }) {
  if (!error) return null;
  return (
    <Notice kind="error">
      {error.field ? `${error.field}: ` : ""}
      {error.message}
    </Notice>
  );
}

export function Badge({ value }: { value: string }) {
  return (
    <span class={`badge b-${value.replace(/[^a-z_-]/gi, "")}`}>{value.replace("_", " ")}</span>
  );
}
