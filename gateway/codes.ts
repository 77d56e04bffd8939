/**
 * The device protocol's answers. Every line the gateway sends is `ACK <seq>` or
 * `ERR <code> <reason>`; codes are stable tokens that clients match on, reasons are for people.
 * A reason that concerns one reading starts with `seq=<n>`.
 */
export const ErrCode = {
  /** A line or frame exceeds `gateway.maxFrameBytes`; it is skipped. */
  tooLarge: "too_large",
  /** A text line is not valid UTF-8. */
  badUtf8: "bad_utf8",
  /** A JSON line does not parse or is not an object. */
  badJson: "bad_json",
  /** A CSV line has the wrong number of columns. */
  badCsv: "bad_csv",
  /** A msgpack frame does not unpack or has the wrong shape. */
  badMsgpack: "bad_msgpack",
  /** `seq` missing, not an integer, negative or ≥ 2^53. */
  badSeq: "bad_seq",
  /** `ts` missing or not a finite number (epoch ms). */
  badTs: "bad_ts",
  /** `ts` too far in the future or the past (`gateway.maxFutureSkewMs` / `maxPastSkewMs`). */
  tsSkew: "ts_skew",
  /** A field name that the device schema does not define. */
  unknownField: "unknown_field",
  /** A field value that is not a finite number of the field's kind (NaN, Infinity, text, 0.5 for an int). */
  badValue: "bad_value",
  /** A field value outside the schema's [min, max]. */
  outOfRange: "out_of_range",
  /** The reading names a device other than the one in the client certificate. */
  idMismatch: "id_mismatch",
  /**
   * The reading's seq is not above one already sent on this connection in the same boot, and its
   * ts is not later: a resend on the same connection (its first copy's ACK stands), or a restarted
   * count. To restart numbering, send `{"hello":{"boot":<new boot>}}` first.
   */
  seqRegress: "seq_regress",
  /** A `{"hello":…}` line without a valid boot (integer in [0, 2^53)); the previous boot stays. */
  badHello: "bad_hello",
  /** Notice, not a refusal: the connection exceeds its readings/s; reading is paused, nothing is dropped. */
  rateLimit: "rate_limit",
  /** The connection was silent longer than `gateway.idleTimeoutMs`; it is closed. */
  idleTimeout: "idle_timeout",
  /** A newer connection with the same device certificate took over; this one is closed. */
  replaced: "replaced",
  /** The connection sent more than `gateway.maxErrors` bad frames; it is closed. */
  tooManyErrors: "too_many_errors",
  /** An ack-mode control line that is not `{"ack":"each"|"none"}` or `{"ack":"coalesced","ms":<10..60000>}`; the mode is kept. */
  badAckMode: "bad_ack_mode",
  /** The gateway is shutting down. */
  shutdown: "shutdown",
} as const
export type ErrCode = (typeof ErrCode)[keyof typeof ErrCode]

/** Codes that refuse a reading (the device must not resend it unchanged). */
export const readingErrCodes: ReadonlyArray<ErrCode> = [
  ErrCode.tooLarge, ErrCode.badUtf8, ErrCode.badJson, ErrCode.badCsv, ErrCode.badMsgpack, ErrCode.badSeq,
  ErrCode.badTs, ErrCode.tsSkew, ErrCode.unknownField, ErrCode.badValue, ErrCode.outOfRange, ErrCode.idMismatch,
  ErrCode.seqRegress,
]

/** `ERR <code> <reason>\n` with newlines in the reason flattened. */
export const errLine = (code: ErrCode, reason: string): string => `ERR ${code} ${reason.replace(/[\r\n]+/g, " ")}\n`

/** `ACK <seq>\n`. */
export const ackLine = (seq: number): string => `ACK ${seq}\n`
