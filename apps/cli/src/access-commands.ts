// `edgefleet api-tokens create|list|revoke` and `edgefleet audit [--actor] [--action] [--since]
// [--limit]` (issue 11, admin only).
import { type Command, Option } from "commander";
import {
  createApiToken,
  formatApiTokens,
  formatAudit,
  formatCreatedApiToken,
  listApiTokens,
  listAudit,
  revokeApiToken,
} from "./access";
import { type Cli, flag, positiveInt, print, remote, run } from "./context";
import { parseDuration } from "./labels";

export function addAccessCommands(program: Command, cli: Cli): void {
  const tokens = program
    .command("api-tokens")
    .description("API tokens for people and tools (admin): create, list, revoke");
  remote(
    tokens
      .command("create")
      .description("A bearer token with a role; its secret is shown once")
      .requiredOption("--name <text>", "what the token is for")
      .addOption(
        new Option("--role <role>", "what it may do")
          .choices(["admin", "operator", "viewer"])
          .makeOptionMandatory(),
      )
      .option(
        "--ttl <duration>",
        "lifetime: seconds, or 30m, 12h, 7d (default: never expires)",
        flag((v) => parseDuration(v, "--ttl")),
      )
      .option("--json", "print the token with its secret as JSON"),
  ).action(
    run(cli, async (o) => {
      const t = await createApiToken(await cli.target(o), {
        name: o.name,
        role: o.role,
        ttlSeconds: o.ttl,
      });
      print(o.json, t, () => formatCreatedApiToken(t));
    }),
  );
  remote(
    tokens
      .command("list", { isDefault: true })
      .description("Every API token: role, state, when created and last used (never secrets)")
      .option("--json", "print {items} as JSON"),
  ).action(
    run(cli, async (o) => {
      const items = await listApiTokens(await cli.target(o));
      print(o.json, { items }, () => formatApiTokens(items));
    }),
  );
  remote(
    tokens
      .command("revoke")
      .description("Revoke a token at once: REST, gRPC and its open streams stop on every replica")
      .argument("<id>", "API token id")
      .option("--json", "print the revoked token as JSON"),
  ).action(
    run(cli, async (id: string, o) => {
      const t = await revokeApiToken(await cli.target(o), id);
      print(o.json, t, () => `revoked API token ${t.id} (${t.name}, role ${t.role})`);
    }),
  );

  remote(
    program
      .command("audit")
      .description("The audit log, newest first: who did what, when (admin)")
      .option("--actor <actor>", "only this actor, e.g. apitoken:<id>, device:<id>, source:<ip>")
      .option("--action <action>", "only this action, e.g. api_token.revoked")
      .option("--since <when>", "only since: an ISO date-time or a duration back (30m, 12h, 7d)")
      .option("--limit <n>", "at most n events, 1..1000 (default 100)", positiveInt("--limit"))
      .option("--json", "print {items, nextCursor} as JSON"),
  ).action(
    run(cli, async (o) => {
      const page = await listAudit(await cli.target(o), {
        actor: o.actor,
        action: o.action,
        since: o.since,
        limit: o.limit,
      });
      print(o.json, page, () => formatAudit(page));
    }),
  );
}
