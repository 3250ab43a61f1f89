/** Help texts: what each command does, its options and exit codes, in words a newcomer can follow. */
export const MAIN_HELP = `mesh-node-agent: joins this Linux VM to a Kubernetes + Istio service mesh.

It replaces the hand-run mesh-expansion steps with one daemon: an Istio workload
certificate rotated against istiod (or legacy Citadel), a flannel-compatible VXLAN
overlay to the pod network, Istio's iptables capture, and a DNS proxy for
*.svc.cluster.local, static names and .global ServiceEntry names.

Usage:
  mesh-node-agent run [--config PATH]          run the daemon (what systemd starts)
  mesh-node-agent run --cleanup-only           remove the capture rules and exit
  mesh-node-agent status [--addr HOST:PORT] [--json]
                                               ask the running agent how it is
  mesh-node-agent check-config [--config PATH] [--json]
                                               validate and print the effective config
  mesh-node-agent leave [--config PATH]        delete this VM's Node (Kubernetes registry);
                                               stop the agent first
  mesh-node-agent version                      print the version
  mesh-node-agent COMMAND --help               details for one command

Config: ${'/etc/mesh-node-agent/config.yaml'} (YAML). Values left unset there come from
Istio's env files (/var/lib/istio/envoy/cluster.env, sidecar.env), then built-in defaults.

Exit codes: 0 ok; 1 failure (bad config, not ready); 2 agent unreachable (status);
64 bad command-line usage.
`;

export const RUN_HELP = `Usage: mesh-node-agent run [--config PATH] [--cleanup-only]

Runs the agent in the foreground: starts every controller enabled in the config,
serves /livez /readyz /status /metrics on status.listen (default 127.0.0.1:15030)
and logs JSON lines to stdout.

  --config PATH     config file (default /etc/mesh-node-agent/config.yaml; when the
                    default is missing, built-in defaults and Istio env files are used)
  --cleanup-only    remove the iptables capture rules the agent installs, then exit
                    (systemd ExecStopPost uses this)

Signals: SIGHUP re-reads the config (an invalid file is rejected and the running
config kept); SIGTERM or SIGINT stop gracefully.
Exit codes: 0 stopped cleanly; 1 invalid config or failed start; 64 usage.
`;

export const STATUS_HELP = `Usage: mesh-node-agent status [--addr HOST:PORT] [--json] [--config PATH]

Asks the running agent for its /status and prints a summary table (or the raw
JSON with --json).

  --addr HOST:PORT  where the agent listens (default: status.listen from --config,
                    else 127.0.0.1:15030)
  --json            print the JSON document as the agent returned it
  --timeout MS      give up after this many milliseconds (default 3000)

Exit codes: 0 ready; 1 running but not ready; 2 unreachable; 64 usage.
`;

export const CHECK_CONFIG_HELP = `Usage: mesh-node-agent check-config [--config PATH] [--json]

Validates the config exactly as "run" would, then prints the effective config with
where each value came from: the YAML file (file:line:col), an Istio env file
(file:line and the variable), or the built-in default.

  --config PATH     config file (default /etc/mesh-node-agent/config.yaml)
  --json            print {"config": ..., "sources": ..., "warnings": [...]} as JSON

Errors are printed one per line as file:line:col: key: problem. An env file that
root does not own, or that group or others can write, gives only the values that
name the workload; the CA address, capture and proxy-user variables in it are
ignored, and a "warning:" line names the file and the fix.
Exit codes: 0 valid; 1 invalid; 64 usage.
`;

export const LEAVE_HELP = `Usage: mesh-node-agent leave [--config PATH]

With overlay.kubernetes, the agent registers this VM as a Node. "leave" deletes that
Node, so flanneld on every node withdraws the routes to this VM: the only time the
agent deletes a Node. Only the Node whose owner annotation names this VM's identity
(stateDir/kube-node-owner) is deleted, never another host's. Stop the agent first
(systemctl stop mesh-node-agent): a running agent would register the Node again.
The ServiceAccount needs "delete" on nodes for this.

  --config PATH     config file (default /etc/mesh-node-agent/config.yaml)

Exit codes: 0 deleted or already absent; 1 failure (another host's Node, API error,
agent still running); 64 usage.
`;

export const VERSION_HELP = `Usage: mesh-node-agent version

Prints the agent's version, and the Node.js runtime it runs on.
`;
