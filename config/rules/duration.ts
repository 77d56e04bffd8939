/** Units a duration may carry, in milliseconds. */
export const durationUnits: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Parses `500ms`, `10s`, `1.5m`, `2h`, `1d` into milliseconds; a string error says what is wrong. */
export const parseDuration = (text: string): number | string => {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(text.trim())
  if (!m) return `"${text}" is not a duration; write e.g. 10s, 500ms, 5m or 1h`
  const unit = m[2] ?? ""
  if (unit === "") return `duration "${text}" is missing a unit; write ${m[1]}s (or ms, m, h, d)`
  const f = durationUnits[unit]
  if (f === undefined) return `unknown duration unit "${unit}" in "${text}"; use ms, s, m, h or d`
  return Math.round(Number(m[1]) * f)
}

/** Formats milliseconds the way a person would write them (`90s`, `5m`, `250ms`). */
export const formatDuration = (ms: number): string =>
  ms % 3_600_000 === 0 && ms > 0 ? `${ms / 3_600_000}h`
  : ms % 60_000 === 0 && ms > 0 ? `${ms / 60_000}m`
  : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
