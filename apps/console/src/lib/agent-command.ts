// The command that starts an agent, as the README gives it. Pure.

export function agentCommand(opts: { token?: string; grpc: string }): string {
  return [
    `ENROLLMENT_TOKEN=${opts.token ?? "<token>"}`,
    `CONTROL_PLANE_GRPC=${opts.grpc}`,
    "DATA_DIR=/var/lib/edgefleet",
    "node --max-semi-space-size=1 --lite-mode apps/agent/dist/agent.mjs",
  ].join(" ");
}

/** gRPC is the HTTP host on the control plane's default GRPC_PORT (the console cannot see it). */
export function defaultGrpcAddress(host: string): string {
  return `${host}:50051`;
}
