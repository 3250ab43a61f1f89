/** A uid or gid as the kernel takes it (2^32-1 is the "no id" value). Pure. */
export function isAccountId(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 4_294_967_294;
}
