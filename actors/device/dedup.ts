/**
 * Which readings of a device are new and which are resends, by reading identity
 * (device, boot, seq) — the device actor's half of "ACK means stored" (docs/gateway.md,
 * "Devices that restart their numbering"). Modelled on Kafka's idempotent producer: the device
 * id plays the producer id, the boot (declared by the device's hello line) the producer epoch,
 * and seq is numbered per boot.
 *
 * - A reading of the current boot is new when its seq is above the boot's last seq, **or** when its
 *   ts is later than every stored reading of the boot: a resend is a copy of a stored reading, so
 *   its ts can never be later than the newest stored one. The second rule recognises a device that
 *   restarted its count without declaring a boot (protocol v1 firmware after a reboot).
 * - A reading of another boot makes that boot current; the previous one is remembered (the last
 *   {@link pastBootsKept} boots), so a backlog of an earlier boot drained after a reboot is still
 *   de-duplicated. A boot never seen (or forgotten) starts with an empty history: accepted, as Kafka
 *   accepts any seq of a producer it has no state for.
 * Pure and deterministic over (state, reading), so a replay after failover decides the same.
 */
import type { DeviceMetrics } from "./metrics.ts"
import type { DeviceState } from "./state.ts"

/** Earlier boots whose last seq is kept per device. */
export const pastBootsKept = 4

/** The numbering part of {@link DeviceState}. */
export type Numbering = Pick<DeviceState, "boot" | "lastSeq" | "lastTs" | "epoch" | "pastBoots">

const switchBoot = (st: Numbering, boot: number, m: DeviceMetrics): void => {
  const past = st.pastBoots
  let seq = -Infinity
  let ts = -Infinity
  for (let k = 0; k < past.length; k += 3) {
    if (past[k] !== boot) continue
    seq = past[k + 1]!
    ts = past[k + 2]!
    past.splice(k, 3)
    break
  }
  if (seq === -Infinity) m.newBoots++
  if (st.lastSeq !== -Infinity) {
    past.push(st.boot, st.lastSeq, st.lastTs)
    if (past.length > pastBootsKept * 3) past.splice(0, past.length - pastBootsKept * 3)
  }
  st.boot = boot
  st.lastSeq = seq
  st.lastTs = ts
  st.epoch++
}

/**
 * True when the reading (boot, seq, ts) is new and must be stored; records it. False for a resend
 * of a stored reading (counted in `duplicates`).
 */
export const admit = (st: Numbering, boot: number, seq: number, ts: number, m: DeviceMetrics): boolean => {
  if (boot !== st.boot) switchBoot(st, boot, m)
  if (seq <= st.lastSeq) {
    if (ts <= st.lastTs) {
      m.duplicates++
      return false
    }
    m.numberingRestarts++
    st.epoch++
  }
  st.lastSeq = seq
  if (ts > st.lastTs) st.lastTs = ts
  return true
}

/** The part of an alert id that names the raising reading: unique per device across boots and restarted counts. */
export const readingKey = (st: Numbering, seq: number): string => (st.epoch === 0 ? `${seq}` : `${st.epoch}.${seq}`)
