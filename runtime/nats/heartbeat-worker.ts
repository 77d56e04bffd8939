/**
 * The heartbeat thread's body (runtime/nats/heartbeat-thread.ts starts it as a Bun Worker): its
 * own NATS connection, a heartbeat into the members bucket every `heartbeatMs` while the node's
 * event loop has turned within `watchdogMs`, and the send time of each stored one in shared memory.
 */
import { systemClock } from "../clock.ts"
import type { MemberInfo } from "../membership.ts"
import { MemberRecord } from "../wire.ts"
import { natsAuth } from "./auth.ts"
import { connectNats, type Nats } from "./connection.ts"
import { cell, type FromThread, type ToThread } from "./heartbeat-thread.ts"
import { natsKv } from "./kv.ts"
import type { Kv } from "./ports.ts"

declare const self: Worker
const post = (m: FromThread) => self.postMessage(m)
const clock = systemClock

let nats: Nats | undefined
let kv: Kv | undefined
let cells: BigInt64Array | undefined
let info: Omit<MemberInfo, "hb" | "at"> | undefined
let hb = 0
let lastBeat = 0
let watchdogMs = 0
let withheldSince: number | undefined
let stopTimer: (() => void) | undefined

const beat = async (): Promise<void> => {
  const sentAt = (lastBeat = clock.now())
  const loopSilentMs = sentAt - Number(Atomics.load(cells!, cell.loopAt))
  if (loopSilentMs >= watchdogMs) {
    // The node's event loop has not turned for too long: no heartbeat, so that the others can
    // declare it dead and take its shards (told once per stretch).
    if (withheldSince === undefined) post({ type: "withheld", loopSilentMs })
    withheldSince ??= sentAt
    return
  }
  withheldSince = undefined
  try {
    await kv!.put(info!.id, MemberRecord.toJson({ ...info!, hb: ++hb, at: sentAt }))
    // As for inline heartbeats: healthy counts from when the stored heartbeat was sent.
    const prev = Number(Atomics.load(cells!, cell.lastOk))
    if (sentAt > prev) Atomics.store(cells!, cell.lastOk, BigInt(sentAt))
  } catch {
    // Unhealthy time: the node reads it from the cell, which stays where it was.
  }
}

self.onmessage = async (e: MessageEvent<ToThread>) => {
  const m = e.data
  try {
    if (m.type === "start") {
      const o = m.options
      cells = new BigInt64Array(m.cells)
      watchdogMs = o.watchdogMs
      info = { ...m.self, draining: m.draining }
      nats = await connectNats({ servers: o.servers, user: o.user, pass: o.pass, auth: o.auth ? natsAuth(o.auth, "node") : undefined, name: o.name })
      kv = natsKv(await nats.kvm.open(o.bucket))
      await beat()
      stopTimer = clock.every(Math.max(50, Math.floor(m.heartbeatMs / 2)), () => {
        if (clock.now() - lastBeat >= m.heartbeatMs - 10) void beat()
      })
    } else if (m.type === "drain") {
      info = { ...info!, draining: true }
      await beat()
    } else {
      stopTimer?.()
      await nats?.nc.drain().catch(() => {})
    }
    post({ type: "done", request: m.type })
  } catch (err) {
    post({ type: "done", request: m.type, error: String(err) })
  }
}
