/**
 * Decides whether a TLS peer is a device of this fleet, and which one. Bun's `Bun.listen` lets
 * the handshake finish (we set `rejectUnauthorized: false` so that the reason can be logged and
 * counted) and reports OpenSSL's verdict; this function maps it to a stable refusal reason.
 * The device id is the SAN URI `urn:akis:device:<id>` when present, else the subject CN.
 */
import { X509Certificate } from "node:crypto"
import { deviceUriPrefix, isDeviceId } from "./device-id.ts"

/** Why a handshake was refused; keys of `metrics.tls_refused_by_reason`. */
export type TlsRefusal =
  | "no_cert" | "self_signed" | "unknown_ca" | "expired" | "not_yet_valid" | "revoked" | "bad_device_id" | "invalid"

export type PeerVerdict =
  | { readonly ok: true; readonly device: string; readonly serial: string }
  | { readonly ok: false; readonly reason: TlsRefusal; readonly detail: string }

/** Upper-case hex without leading zeros, the form CRL listings and X509Certificate agree on. */
export const normSerial = (s: string): string => s.toUpperCase().replace(/^0+(?=.)/, "")

/** The device id a certificate names (SAN URI first, then CN), or undefined. */
export const deviceIdOf = (cert: X509Certificate): string | undefined => {
  for (const part of (cert.subjectAltName ?? "").split(/,\s*/)) {
    if (part.startsWith(`URI:${deviceUriPrefix}`)) return part.slice(4 + deviceUriPrefix.length)
  }
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)
  return cn?.[1]
}

const byCode: Record<string, TlsRefusal> = {
  CERT_REVOKED: "revoked",
  CERT_HAS_EXPIRED: "expired",
  CERT_NOT_YET_VALID: "not_yet_valid",
  DEPTH_ZERO_SELF_SIGNED_CERT: "self_signed",
  SELF_SIGNED_CERT_IN_CHAIN: "unknown_ca",
}

/**
 * Classifies a peer. `authError` is what Bun's handshake reported (null when OpenSSL accepted the
 * chain); `revoked` are serials from the CRL file as last loaded (it may be newer than the CRL Bun
 * was started with).
 */
export const classifyPeer = (
  authError: (Error & { code?: string }) | null,
  peer: X509Certificate | undefined,
  ca: X509Certificate,
  revoked: ReadonlySet<string>,
): PeerVerdict => {
  if (!peer) return { ok: false, reason: "no_cert", detail: "no client certificate" }
  const refuse = (reason: TlsRefusal, detail: string): PeerVerdict => ({ ok: false, reason, detail: `${detail} (subject ${peer.subject.replace(/\n/g, ", ")})` })
  const code = authError?.code
  if (code && byCode[code]) return refuse(byCode[code], authError.message)
  // OpenSSL accepted the chain against our CA alone (the `ca` option replaces the default trust
  // store), so the signature check below (slow in Bun: several ms) is needed only to explain a failure.
  if (authError) {
    if (!peer.checkIssued(ca) || !peer.verify(ca.publicKey)) {
      return peer.checkIssued(peer) ? refuse("self_signed", "self-signed certificate") : refuse("unknown_ca", "certificate not issued by the fleet CA")
    }
    return refuse("invalid", `${code ?? ""} ${authError.message}`.trim())
  }
  if (!peer.checkIssued(ca)) return refuse("unknown_ca", "certificate not issued by the fleet CA")
  const serial = normSerial(peer.serialNumber)
  if (revoked.has(serial)) return refuse("revoked", `serial ${serial} is in the CRL`)
  const device = deviceIdOf(peer)
  if (device === undefined || !isDeviceId(device)) return refuse("bad_device_id", `device id ${JSON.stringify(device ?? null)} is not a token of [A-Za-z0-9_-]{1,64}`)
  return { ok: true, device, serial }
}
