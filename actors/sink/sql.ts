/**
 * Client-side quoting for ClickHouse SQL. 18.16 has no server-side query parameters, so every
 * value is checked and rendered here, on every backend (one code path).
 */

/** Quotes a string literal: backslash and single quote escaped, control characters as \xHH. */
export const quoteString = (s: string): string => {
  let out = "'"
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 0x27) out += "\\'"
    else if (c === 0x5c) out += "\\\\"
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`
    else out += s[i]
  }
  return out + "'"
}

/** Identifiers we create are lower_snake_case (the device schema enforces it); anything else is refused. */
export const isIdentifier = (s: string): boolean => /^[a-z_][a-z0-9_]{0,62}$/.test(s)

/** Quotes an identifier known to match {@link isIdentifier}. */
export const ident = (s: string): string => {
  if (!isIdentifier(s)) throw new RangeError(`not a safe identifier: ${JSON.stringify(s)}`)
  return `\`${s}\``
}

/** Renders a finite number as a SQL literal (integers exactly, others shortest round-trip). */
export const num = (n: number): string => {
  if (!Number.isFinite(n)) throw new RangeError(`not a finite number: ${n}`)
  return String(n)
}
