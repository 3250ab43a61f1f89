/** A problem found by a cross-field check (pure); `path` is the full dotted key, e.g. ['overlay', 'subnet']. */
export interface CheckIssue {
  path: (string | number)[];
  message: string;
}
