/**
 * One errors module with stable, machine-readable codes. Messages say what went wrong
 * and what to do; the code is what scripts and tests match on.
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
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

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
