/**
 * The listener's deadline sweep on the gateway clock: every `sweepMs` (a quarter of the shortest
 * deadline, 20 ms..1 s) it asks {@link Admission} which sockets are past their handshake,
 * first-frame or idle deadline and hands each to `onExpired`, then calls `onTick` (budget pruning,
 * once-a-second log summaries). Separate from server.ts so it runs on a TestClock without sockets.
 */
import type { Cancel, Clock } from "../runtime/clock.ts"
import type { Admission, AdmissionLimits, Expiry } from "./admission.ts"

/** Period of the sweep: deadlines are enforced at most this late. */
export const sweepMs = (l: Pick<AdmissionLimits, "idleTimeoutMs" | "handshakeTimeoutMs" | "firstFrameTimeoutMs">): number =>
  Math.max(20, Math.min(1000, Math.floor(Math.min(l.idleTimeoutMs, l.handshakeTimeoutMs, l.firstFrameTimeoutMs) / 4)))

export const watchDeadlines = <H>(
  clock: Clock,
  admission: Admission<H>,
  onExpired: (h: H, why: Expiry) => void,
  onTick: (now: number) => void = () => {},
): Cancel =>
  clock.every(sweepMs(admission.limits), () => {
    const now = clock.now()
    for (const [h, why] of admission.sweep(now)) onExpired(h, why)
    onTick(now)
  })
