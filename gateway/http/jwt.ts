import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from "jose"
import { roles, type Role } from "./auth.ts"

/**
 * Optional: bearer JWTs from an external identity provider, checked against its JWKS (jose).
 * The role comes from a claim (default `akis_role`); the caller's name is `sub`.
 */
export interface JwtOptions {
  /** Key set: `createRemoteJWKSet(new URL(jwksUrl))` in a node, a local set in tests. */
  readonly keys: JWTVerifyGetKey
  readonly issuer?: string | undefined
  readonly audience?: string | undefined
  readonly roleClaim?: string | undefined
}

/** What a valid JWT says about its caller, or why it was refused. */
export type JwtCheck = { ok: true; name: string; role: Role } | { ok: false; why: string }

/** Whether a bearer value looks like a JWT (three base64url parts) rather than an akis token. */
export const looksLikeJwt = (s: string): boolean => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(s)

/** Builds the checker; signature, expiry, issuer and audience are verified by jose. */
export const makeJwtVerifier = (o: JwtOptions) => async (token: string): Promise<JwtCheck> => {
  try {
    const { payload } = await jwtVerify(token, o.keys, { issuer: o.issuer || undefined, audience: o.audience || undefined })
    const role = payload[o.roleClaim ?? "akis_role"]
    if (typeof role !== "string" || !(roles as ReadonlyArray<string>).includes(role)) return { ok: false, why: `no valid ${o.roleClaim ?? "akis_role"} claim` }
    return { ok: true, name: `jwt:${payload.sub ?? "?"}`, role: role as Role }
  } catch (e) {
    return { ok: false, why: (e as { code?: string }).code ?? "invalid" }
  }
}

/** A verifier over a remote JWKS URL (keys cached and refreshed by jose). */
export const remoteJwtVerifier = (jwksUrl: string, issuer: string, audience: string, roleClaim: string) =>
  makeJwtVerifier({ keys: createRemoteJWKSet(new URL(jwksUrl)), issuer, audience, roleClaim })
