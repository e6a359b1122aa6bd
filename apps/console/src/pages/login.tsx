// Login: paste an API token; /api/v1/me says whether it works and what role it has.
import type { MeView } from "@edgefleet/protocol/rest";
import { useState } from "preact/hooks";
import { ApiError, api, errorText } from "../lib/api";
import { useTitle } from "../lib/hooks";

export function LoginPage({ onLogin }: { onLogin: (token: string, me: MeView) => void }) {
  useTitle("Log in");
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const t = token.trim();
    if (!t) {
      setError("Paste an API token first.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      onLogin(t, await api<MeView>("/api/v1/me", { token: t }));
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? "That token is not valid (revoked, mistyped, or from another control plane)."
          : errorText(err),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login" id="main">
      <h1>Edgefleet console</h1>
      <form onSubmit={submit} aria-describedby="login-help">
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          autofocus
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
          aria-invalid={error ? "true" : undefined}
          aria-describedby={error ? "login-error" : undefined}
        />
        <button type="submit" disabled={busy}>
          {busy ? "Checking…" : "Log in"}
        </button>
        {error && (
          <p id="login-error" class="field-error" role="alert">
            {error}
          </p>
        )}
      </form>
      <p id="login-help" class="help">
        The token stays in this tab's session storage and is sent only to this control plane. With{" "}
        <code>npm start</code>, the admin token is in{" "}
        <code>.edgefleet/control-plane/admin-token</code>:{" "}
        <code>cat .edgefleet/control-plane/admin-token</code>.
      </p>
    </main>
  );
}
