// Enrollment: create a token (admin), shown once, with the command that starts an agent with it.
import type { CreatedEnrollmentToken } from "@edgefleet/protocol/rest";
import { useContext, useState } from "preact/hooks";
import { Empty, FormError } from "../components/states";
import { agentCommand, defaultGrpcAddress } from "../lib/agent-command";
import { ApiError, api, errorText } from "../lib/api";
import { AppContext } from "../lib/context";
import { formatTime } from "../lib/format";
import { useTitle } from "../lib/hooks";
import { can } from "../lib/roles";

const LIFETIMES: [string, number][] = [
  ["1 hour", 3600],
  ["1 day", 86_400],
  ["7 days", 7 * 86_400],
  ["30 days", 30 * 86_400],
];

export function EnrollPage() {
  useTitle("Enrollment");
  const { me } = useContext(AppContext);
  const [label, setLabel] = useState("");
  const [maxUses, setMaxUses] = useState("1");
  const [lifetime, setLifetime] = useState(3600);
  const [created, setCreated] = useState<CreatedEnrollmentToken | null>(null);
  const [error, setError] = useState<{ field?: string; message: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const [busy, setBusy] = useState(false);

  if (!can(me?.role, "admin")) {
    return (
      <section>
        <h1>Enrollment</h1>
        <Empty>
          <p>Creating enrollment tokens needs the admin role; this token is a {me?.role}.</p>
        </Empty>
      </section>
    );
  }
  const submit = async (e: Event) => {
    e.preventDefault();
    const uses = Number(maxUses);
    if (!Number.isInteger(uses) || uses < 1) {
      setError({ field: "maxUses", message: "must be a whole number, 1 or more" });
      return;
    }
    setBusy(true);
    setError(null);
    setCopied(false);
    try {
      setCreated(
        await api<CreatedEnrollmentToken>("/api/v1/enrollment-tokens", {
          body: {
            ...(label.trim() ? { label: label.trim() } : {}),
            maxUses: uses,
            expiresInSeconds: lifetime,
          },
        }),
      );
    } catch (err) {
      setError({ field: err instanceof ApiError ? err.field : undefined, message: errorText(err) });
    } finally {
      setBusy(false);
    }
  };
  const command = created
    ? agentCommand({ token: created.token, grpc: defaultGrpcAddress(location.hostname) })
    : "";
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(command);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return (
    <section aria-labelledby="enroll-h">
      <h1 id="enroll-h">Enrollment</h1>
      <p class="help">
        An agent enrolls once with a token: it makes its own key pair and gets a device identity
        that can only use its own NATS subjects. Tokens are stored hashed, so a token is shown once.
      </p>
      <form class="stack" onSubmit={submit}>
        <fieldset>
          <legend>New enrollment token</legend>
          <label>
            Label
            <input
              name="label"
              placeholder="enrollment"
              maxLength={100}
              value={label}
              onInput={(e) => setLabel((e.target as HTMLInputElement).value)}
            />
          </label>
          <label>
            Uses
            <input
              name="maxUses"
              inputMode="numeric"
              value={maxUses}
              aria-invalid={error?.field === "maxUses" ? "true" : undefined}
              onInput={(e) => setMaxUses((e.target as HTMLInputElement).value)}
            />
          </label>
          <label>
            Expires in
            <select
              value={String(lifetime)}
              onChange={(e) => setLifetime(Number((e.target as HTMLSelectElement).value))}
            >
              {LIFETIMES.map(([text, s]) => (
                <option key={s} value={String(s)}>
                  {text}
                </option>
              ))}
            </select>
          </label>
        </fieldset>
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            Create token
          </button>
        </div>
        <FormError error={error} />
      </form>
      {created && (
        <section class="card once" aria-labelledby="token-h" data-testid="created-token">
          <h2 id="token-h">Token created: copy it now, it is not shown again</h2>
          <p>
            <code class="secret" data-testid="token-value">
              {created.token}
            </code>
          </p>
          <p class="muted">
            {created.label} · {created.maxUses} {created.maxUses === 1 ? "use" : "uses"} · expires{" "}
            {formatTime(created.expiresAt)}
          </p>
          <p>
            Start an agent with it (after <code>npm run build -w @edgefleet/agent</code>):
          </p>
          <pre class="command" data-testid="agent-command">
            {command}
          </pre>
          <p class="muted small">
            <code>CONTROL_PLANE_GRPC</code> assumes the control plane's default gRPC port 50051 on
            this host; use its <code>GRPC_PORT</code> if it differs.
          </p>
          <button type="button" onClick={copy}>
            {copied ? "Copied" : "Copy command"}
          </button>
        </section>
      )}
    </section>
  );
}
