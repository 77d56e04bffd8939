/**
 * Device ids travel in NATS subjects (`akis.alerts.<sev>.<device>`), ClickHouse rows and file
 * names, so they must be one subject token: 1–64 of `A-Z a-z 0-9 _ -` (no `.`, `*`, `>`,
 * whitespace). The gateway refuses a certificate whose id is not such a token.
 */
const deviceIdRe = /^[A-Za-z0-9_-]{1,64}$/

/** True when `id` is a valid, subject-safe device id. */
export const isDeviceId = (id: string): boolean => deviceIdRe.test(id)

/** Prefix of a SAN URI that names a device: `urn:akis:device:<id>`. */
export const deviceUriPrefix = "urn:akis:device:"
