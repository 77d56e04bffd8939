/**
 * The fast path of CSV decoding: an all-ASCII line is scanned byte by byte and each decimal
 * number is built from its digits, without splitting the line into strings. A number with at
 * most 15 significant digits and a decimal exponent within ±22 is converted exactly (one exact
 * multiply or divide of two exactly representable doubles, correctly rounded: Clinger's fast
 * path); anything else — more digits, odd characters, non-ASCII bytes — makes the caller fall
 * back to the general decoder, so results are identical to `Number(cell)`.
 */
const POW10 = Float64Array.from({ length: 23 }, (_, i) => 10 ** i)
const COMMA = 0x2c

/** Cell outcomes. */
export const CellStatus = { ok: 0, empty: 1, slow: 2 } as const

/** Result of {@link scanCell}, kept in module state to avoid allocating per cell. */
export const cell = { value: 0, status: 0 as number, next: 0 }

/** Parses the number in `b[pos..end)` up to the next comma (or `end`); returns (and stores) the status. */
export const scanCell = (b: Uint8Array, pos: number, end: number): number => {
  let i = pos
  let c = i < end ? b[i]! : COMMA
  if (c === COMMA) {
    cell.next = i + 1
    return (cell.status = CellStatus.empty)
  }
  let neg = false
  if (c === 0x2d || c === 0x2b) {
    neg = c === 0x2d
    i++
  }
  let mant = 0
  let digits = 0
  let scale = 0
  let any = false
  while (i < end && (c = b[i]!) >= 0x30 && c <= 0x39) {
    if (digits > 0 || c !== 0x30) digits++
    mant = mant * 10 + (c - 0x30)
    any = true
    i++
  }
  if (i < end && b[i] === 0x2e) {
    i++
    while (i < end && (c = b[i]!) >= 0x30 && c <= 0x39) {
      if (digits > 0 || c !== 0x30) digits++
      mant = mant * 10 + (c - 0x30)
      scale--
      any = true
      i++
    }
  }
  if (i < end && (b[i] === 0x65 || b[i] === 0x45)) {
    i++
    let eneg = false
    if (i < end && (b[i] === 0x2d || b[i] === 0x2b)) eneg = b[i++] === 0x2d
    let e = 0
    let edigits = 0
    while (i < end && (c = b[i]!) >= 0x30 && c <= 0x39 && edigits < 5) {
      e = e * 10 + (c - 0x30)
      edigits++
      i++
    }
    if (edigits === 0) return (cell.status = CellStatus.slow)
    scale += eneg ? -e : e
  }
  if (!any || digits > 15 || (i < end && b[i] !== COMMA) || scale < -22 || scale > 22) return (cell.status = CellStatus.slow)
  const v = scale < 0 ? mant / POW10[-scale]! : mant * POW10[scale]!
  cell.value = neg ? -v : v
  cell.next = i + 1
  return (cell.status = CellStatus.ok)
}

/** True when every byte is ASCII (so the line is valid UTF-8 and one byte is one character). */
export const isAscii = (b: Uint8Array): boolean => {
  for (let i = 0; i < b.length; i++) if (b[i]! >= 0x80) return false
  return true
}
