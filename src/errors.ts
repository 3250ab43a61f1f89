/**
 * One errors module with stable, machine-readable codes. Messages say what went wrong
 * and what to do; the code is what scripts and tests match on. docs/errors.md is generated from
 * ERROR_DOCS (`npm run gen`), and the test command fails when it is stale.
 */
export const ErrorCode = {
  ConfigInvalid: 'MNA_CONFIG_INVALID',
  ConfigUnreadable: 'MNA_CONFIG_UNREADABLE',
  EnvFileInvalid: 'MNA_ENV_FILE_INVALID',
  UsageInvalid: 'MNA_USAGE',
  StatusUnreachable: 'MNA_STATUS_UNREACHABLE',
  ControllerFailed: 'MNA_CONTROLLER_FAILED',
  CaUnavailable: 'MNA_CA_UNAVAILABLE',
  CaAnswerRejected: 'MNA_CA_ANSWER_REJECTED',
  CaRootUnsafe: 'MNA_CA_ROOT_UNSAFE',
  CertDirUnsafe: 'MNA_CERT_DIR_UNSAFE',
  NetlinkFailed: 'MNA_NETLINK_FAILED',
  IptablesFailed: 'MNA_IPTABLES_FAILED',
  EtcdUnavailable: 'MNA_ETCD_UNAVAILABLE',
  DnsFailed: 'MNA_DNS_FAILED',
  KubeConfigInvalid: 'MNA_KUBE_CONFIG_INVALID',
  KubeApiFailed: 'MNA_KUBE_API_FAILED',
  /** A value refused before it could reach the kernel or a command line (not an IP, port, CIDR or id). */
  UnsafeValue: 'MNA_UNSAFE_VALUE',
  CertInvalid: 'MNA_CERT_INVALID',
  KeyGenerationFailed: 'MNA_KEY_GENERATION_FAILED',
  InstallIncomplete: 'MNA_INSTALL_INCOMPLETE',
  EtcdLeaseInvalid: 'MNA_ETCD_LEASE_INVALID',
  WatchReset: 'MNA_WATCH_RESET',
  DnsUpstreamFailed: 'MNA_DNS_UPSTREAM_FAILED',
  DnsNameInvalid: 'MNA_DNS_NAME_INVALID',
  Cancelled: 'MNA_CANCELLED',
  Internal: 'MNA_INTERNAL',
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ErrorDoc {
  /** What went wrong, in a sentence. */
  meaning: string;
  /** What the operator does about it. */
  fix: string;
}

/** Each code's meaning and fix, for docs/errors.md; the type makes a new code without a doc a compile error. */
export const ERROR_DOCS: Readonly<Record<ErrorCodeValue, ErrorDoc>> = {
  MNA_CONFIG_INVALID: {
    meaning: 'The configuration (config.yaml, a trusted Istio env file, or a value derived from them such as flannel\'s network config in etcd) has a value the agent cannot use. The message names the file, line and key. At start the agent exits 1; on reload it keeps the running config.',
    fix: 'Correct the named key (`mesh-node-agent check-config` shows every value and where it came from; docs/config.md lists every key), then `systemctl reload mesh-node-agent`.',
  },
  MNA_CONFIG_UNREADABLE: {
    meaning: 'The config file (or an env file) exists but cannot be read: permissions, a directory, an I/O error.',
    fix: 'Make the file readable by root, or pass `--config PATH` to a readable YAML file.',
  },
  MNA_ENV_FILE_INVALID: {
    meaning: 'An Istio env file (cluster.env, sidecar.env) holds a line bash would not read as a plain assignment. The message names file and line.',
    fix: 'Rewrite the line as `NAME=value` (quotes allowed, no command substitution), or point `istio.clusterEnv`/`istio.sidecarEnv` elsewhere.',
  },
  MNA_USAGE: {
    meaning: 'The command line is wrong: an unknown command or option, or a value of the wrong form. The process exits 64.',
    fix: 'See `mesh-node-agent COMMAND --help`.',
  },
  MNA_STATUS_UNREACHABLE: {
    meaning: '`mesh-node-agent status` could not get an answer from the status endpoint (not running, another address, or an HTTP error). The command exits 2.',
    fix: 'Check `systemctl status mesh-node-agent`; pass `--addr HOST:PORT` when `status.listen` is not the default.',
  },
  MNA_CONTROLLER_FAILED: {
    meaning: 'A controller (or the status server) could not start or keep running for a reason of the host: a port in use, a group the agent is not in. The daemon lives on; /status shows the controller as failed.',
    fix: 'Follow the message (free the port, create the group), then restart or reload the agent.',
  },
  MNA_CA_UNAVAILABLE: {
    meaning: 'The CA (istiod or Citadel) did not answer, refused the call (authentication, TLS), or the root certificate it is verified with is missing or unreadable. The installed certificate is kept and the call retried with backoff.',
    fix: 'Check `identity.ca.address`, the token file and `identity.ca.rootCert`; the message carries the gRPC status and a hint.',
  },
  MNA_CA_ANSWER_REJECTED: {
    meaning: 'The CA answered with a certificate chain that failed verification (wrong identity, wrong key, not signed by the trusted root, expired, malformed). Nothing is installed; the installed certificate is kept.',
    fix: 'Check that `identity.ca.rootCert` is the mesh root and the SPIFFE settings (`identity.spiffe.*`) match the workload\'s identity; the message names the failed check.',
  },
  MNA_CA_ROOT_UNSAFE: {
    meaning: 'The root certificate file (`identity.ca.rootCert`) could be changed by someone other than root (owner, mode, directory), so it is not trusted.',
    fix: 'Run the `chown`/`chmod` the message gives, after checking that the file holds the mesh root.',
  },
  MNA_CERT_DIR_UNSAFE: {
    meaning: '`identity.certDir` (or a directory above it) is writable by someone other than root, is a symbolic link, or could not be secured, so certificates are not written there.',
    fix: 'Run the fix the message gives (`chown root DIR && chmod go-w DIR`), or choose a certDir inside a directory only root can write.',
  },
  MNA_NETLINK_FAILED: {
    meaning: 'The kernel refused a netlink request for the overlay (creating the VXLAN device, a route, a neighbour or FDB entry), or the first reconcile failed. The message carries the errno.',
    fix: 'Check the overlay settings the message names (device, underlay interface, subnet) and that the agent has CAP_NET_ADMIN; the overlay retries with backoff.',
  },
  MNA_IPTABLES_FAILED: {
    meaning: 'iptables (or iptables-save/restore) failed, is missing, or the rules read back differ from the rules written. A failed restore changes nothing in its table.',
    fix: 'Install the iptables package; check for another program rewriting the ISTIO_* chains; the message carries iptables\' own error.',
  },
  MNA_ETCD_UNAVAILABLE: {
    meaning: 'flannel\'s etcd could not be reached or did not settle (a lease could not be acquired after repeated lost races). The overlay keeps the peers it has and retries.',
    fix: 'Check `overlay.etcd.endpoints` and its TLS settings, and that etcd is healthy.',
  },
  MNA_DNS_FAILED: {
    meaning: 'The DNS proxy could not start or reload: a listener address in use, the saved resolv.conf not writable, ServiceEntry manifests rejected (the last good table is kept).',
    fix: 'Stop the other DNS server on the port (dnsmasq, systemd-resolved) or change `dns.listen`; make `stateDir` writable; fix the named manifest.',
  },
  MNA_KUBE_CONFIG_INVALID: {
    meaning: 'The Kubernetes connection settings (a kubeconfig, or server, CA and token file) are missing, unreadable or inconsistent.',
    fix: 'Correct the `kubernetes.*` key or the kubeconfig entry the message names.',
  },
  MNA_KUBE_API_FAILED: {
    meaning: 'The Kubernetes API server refused a request, did not answer, or sent something the agent does not accept. Watches retry with backoff.',
    fix: 'Check the API server address and the ServiceAccount\'s permissions (docs/kubernetes.md lists them); the message carries the HTTP status and reason.',
  },
  MNA_UNSAFE_VALUE: {
    meaning: 'A value was refused before it could reach the kernel or a command line (an iptables rule, a netlink message): not an IP, port, CIDR, MAC or id.',
    fix: 'Fix the config key or host file the value came from; the message names it.',
  },
  MNA_CERT_INVALID: {
    meaning: 'A certificate file or answer does not hold a parsable PEM certificate (the root certificate file, the installed chain, an element of a CA answer).',
    fix: 'Replace the named file with the PEM certificate it should hold (for the root, the mesh root certificate).',
  },
  MNA_KEY_GENERATION_FAILED: {
    meaning: 'A new private key could not be generated (too few bits requested, or the generator failed). No CSR is sent; the installed certificate is kept.',
    fix: 'Set `identity.key.bits` to at least 2048; otherwise report the message.',
  },
  MNA_INSTALL_INCOMPLETE: {
    meaning: 'A file the package ships is missing: the CA protocol definitions (proto/), so the identity controller cannot talk to the CA.',
    fix: 'Reinstall the package; when running from a source tree, set `MNA_PROTO_DIR` to its proto/ directory.',
  },
  MNA_ETCD_LEASE_INVALID: {
    meaning: 'A lease in flannel\'s etcd registry (written by another host) is not a valid flannel lease. It is ignored; the other peers are programmed.',
    fix: 'Find the host that wrote the key (the message and /status name it) and fix or remove its lease.',
  },
  MNA_WATCH_RESET: {
    meaning: 'A watch (etcd or Kubernetes) lost its place: the revision was compacted, the cluster was replaced, or the stream sent something that is not an event or a line over its size limit. The agent lists again by itself.',
    fix: 'Nothing, unless it repeats: then check the etcd or API server the message names.',
  },
  MNA_DNS_UPSTREAM_FAILED: {
    meaning: 'An upstream DNS server did not answer in time, closed its connection or had too many queries in flight. The query is retried on another upstream or answered SERVFAIL; the upstream\'s health is tracked.',
    fix: 'Check the upstream servers (`dns.upstreams`, `dns.forward`, the saved resolv.conf).',
  },
  MNA_DNS_NAME_INVALID: {
    meaning: 'A DNS name (from the config, a ServiceEntry or a query) has a label longer than 63 bytes, an empty label, or is longer than 255 bytes.',
    fix: 'Correct the name where it came from.',
  },
  MNA_CANCELLED: {
    meaning: 'An operation was stopped because its controller is stopping or reloading. Not a failure.',
    fix: 'Nothing.',
  },
  MNA_INTERNAL: {
    meaning: 'An invariant of the agent itself failed: a bug (for example, a step ran before the state it needs existed).',
    fix: 'Report it with the log lines around it; restarting the agent usually recovers.',
  },
};

const marker = Symbol.for('mesh-node-agent.AgentError');

export class AgentError extends Error {
  readonly code: ErrorCodeValue;
  readonly [marker] = true;

  constructor(code: ErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentError';
    this.code = code;
  }

  /** Works across duplicate copies of this module (bundles, tests). */
  static is(value: unknown): value is AgentError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[marker] === true;
  }
}

/**
 * An AgentError that is a refusal of the agent's own (a config or data problem whose message says
 * what to fix), as opposed to a remote end that is unreachable (MNA_ETCD_UNAVAILABLE) or a watch
 * that restarts (MNA_WATCH_RESET): those are retried, a refusal is reported.
 */
export function isRefusal(err: unknown): err is AgentError {
  return AgentError.is(err) && err.code !== ErrorCode.EtcdUnavailable && err.code !== ErrorCode.WatchReset && err.code !== ErrorCode.Cancelled;
}

/** A config problem located in a file: rendered as `file:line:col: key: problem`. */
export interface ConfigIssue {
  file: string;
  line: number;
  col: number;
  key: string;
  message: string;
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.file === '' ? '<defaults>' : `${issue.file}:${issue.line}:${issue.col}`;
  return `${where}: ${issue.key === '' ? '(root)' : issue.key}: ${issue.message}`;
}

export class ConfigError extends AgentError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], code: ErrorCodeValue = ErrorCode.ConfigInvalid) {
    super(code, issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
