import { createHash, randomBytes, timingSafeEqual } from "node:crypto"

/**
 * API tokens and roles (pure: no IO). A token is `akis_<id>_<secret>`: `id` (8 hex) finds the
 * record, `secret` (32 random bytes, base64url) is checked against its SHA-256. A fast hash is
 * enough because the secret is random (256 bits), not a password: nothing to brute-force.
 */

/** Roles in increasing power; each includes what the ones before it may do. */
export const roles = ["viewer", "operator", "admin"] as const
export type Role = (typeof roles)[number]

/** Whether `have` may do what needs `need`. */
export const allows = (have: Role, need: Role): boolean => roles.indexOf(have) >= roles.indexOf(need)

/** What the token store keeps for a token (never the secret). */
export interface TokenRecord {
  readonly id: string
  readonly name: string
  readonly role: Role
  /** hex SHA-256 of the secret. */
  readonly hash: string
  readonly createdAt: number
  /** Epoch ms; null = never. */
  readonly expiresAt: number | null
  /** Epoch ms when revoked; null = valid. */
  readonly revokedAt: number | null
  /** Name of the token (or "cli") that created it. */
  readonly createdBy: string
}

/** Token ids: 8 hex characters (a KV key segment). */
export const tokenIdPattern = /^[0-9a-f]{8}$/
const tokenPattern = /^akis_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$/

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex")

/** A new token: the record to store and the secret text to show once. */
export const newToken = (name: string, role: Role, now: number, expiresAt: number | null, createdBy: string, random = randomBytes) => {
  const id = random(4).toString("hex")
  const secret = random(32).toString("base64url")
  const record: TokenRecord = { id, name, role, hash: sha256(secret), createdAt: now, expiresAt, revokedAt: null, createdBy }
  return { record, token: `akis_${id}_${secret}` }
}

/** Why a presented token was refused (401). */
export type TokenRefusal = "missing" | "malformed" | "unknown" | "bad_secret" | "revoked" | "expired"

/** Checks a bearer token against the records; returns the record or why it is refused. */
export const verifyToken = (
  presented: string | undefined, lookup: (id: string) => TokenRecord | undefined, now: number,
): { ok: true; record: TokenRecord } | { ok: false; why: TokenRefusal } => {
  if (!presented) return { ok: false, why: "missing" }
  const m = tokenPattern.exec(presented)
  if (!m) return { ok: false, why: "malformed" }
  const record = lookup(m[1]!)
  if (!record) return { ok: false, why: "unknown" }
  const a = Buffer.from(sha256(m[2]!), "hex")
  const b = Buffer.from(record.hash, "hex")
  if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, why: "bad_secret" }
  if (record.revokedAt !== null) return { ok: false, why: "revoked" }
  if (record.expiresAt !== null && now >= record.expiresAt) return { ok: false, why: "expired" }
  return { ok: true, record }
}

/** Reads `Authorization: Bearer <token>` (or `?access_token=` for EventSource, which cannot set headers). */
export const bearer = (header: string | undefined | null): string | undefined => {
  if (!header) return undefined
  const m = /^Bearer\s+(\S+)$/i.exec(header.trim())
  return m ? m[1] : undefined
}

/** Token-bucket settings. */
export interface RateLimit {
  readonly perSec: number
  readonly burst: number
}

/**
 * Per-key token buckets on an injected clock. `take` answers 0 when allowed, else the seconds
 * until one request would be allowed (for `Retry-After`).
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()
  constructor(private readonly limit: RateLimit, private readonly now: () => number) {}

  take(key: string): number {
    const t = this.now()
    let b = this.buckets.get(key)
    if (!b) {
      b = { tokens: this.limit.burst, at: t }
      this.buckets.set(key, b)
      if (this.buckets.size > 100_000) this.buckets.clear() // bounded memory; worst case a burst is re-granted
    }
    b.tokens = Math.min(this.limit.burst, b.tokens + ((t - b.at) / 1000) * this.limit.perSec)
    b.at = t
    if (b.tokens >= 1) {
      b.tokens -= 1
      return 0
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.limit.perSec))
  }
}
