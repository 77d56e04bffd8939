import { H, HG } from "../../../config/rules/window-layout.ts"

/**
 * Where things are in a window arena (arena.ts): offsets inside a window's header (H doubles at
 * `k * H`) and a duration group's header (HG doubles), and slot addressing in a group's ring. The
 * header sizes are the size model of config/rules/window-layout.ts, which the rule limits use.
 */

// window (member) header
export const MEAN = 0, M2 = 1, UPD = 2, N = 3, FIRST = 4, LAST = 5, MINH = 6, MINT = 7, MAXH = 8, MAXT = 9, QOFF = 10, G = 11, COL = 12, FLD = 13, MOM = 14
// group header
export const OFF = 0, CAP = 1, START = 2, END = 3, MS = 4, STRIDE = 5

if (MOM >= H || STRIDE >= HG) throw new RangeError("window arena: header offsets exceed the header sizes of config/rules/window-layout.ts")

/** Index in `A` of absolute slot `abs` of the group whose header is at `g`. */
export const slot = (A: Float64Array, g: number, abs: number): number => A[g + OFF]! + (abs & (A[g + CAP]! - 1)) * A[g + STRIDE]!
/** Value of the window at header `h` in absolute slot `abs`. */
export const xAt = (A: Float64Array, h: number, abs: number): number => A[slot(A, A[h + G]!, abs) + A[h + COL]!]!
/** Event time of absolute slot `abs` of the window at header `h`. */
export const tAt = (A: Float64Array, h: number, abs: number): number => A[slot(A, A[h + G]!, abs)]!
