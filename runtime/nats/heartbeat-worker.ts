/**
 * The heartbeat thread's body (runtime/nats/heartbeat-thread.ts starts it as a Bun Worker): its
 * own NATS connection, a heartbeat into the members bucket every `heartbeatMs` while the node's
 * event loop has turned within `watchdogMs`, and the send time of each stored one in shared memory.
 */
import { systemClock } from "../clock.ts"
import { inlineHeartbeats, type Heartbeats } from "../membership.ts"
import { natsAuth } from "./auth.ts"
import { connectNats, type Nats } from "./connection.ts"
import { cell, type FromThread, type ToThread } from "./heartbeat-thread.ts"
import { natsKv } from "./kv.ts"

declare const self: Worker
const post = (m: FromThread) => self.postMessage(m)
const clock = systemClock

let nats: Nats | undefined
let beats: Heartbeats | undefined

self.onmessage = async (e: MessageEvent<ToThread>) => {
  const m = e.data
  try {
    if (m.type === "start") {
      const o = m.options
      const cells = new BigInt64Array(m.cells)
      let withheld = false
      nats = await connectNats({ servers: o.servers, user: o.user, pass: o.pass, auth: o.auth ? natsAuth(o.auth, "node") : undefined, name: o.name })
      // The node's own heartbeat loop, run here: the same timing and the same health rule.
      beats = inlineHeartbeats(natsKv(await nats.kvm.open(o.bucket)), m.self, { heartbeatMs: m.heartbeatMs }, clock, {
        draining: m.draining,
        mayBeat(now) {
          const loopSilentMs = now - Number(Atomics.load(cells, cell.loopAt))
          // The node's event loop has not turned for too long: no heartbeat, so that the others
          // can declare it dead and take its shards (told once per stretch).
          if (loopSilentMs >= o.watchdogMs) {
            if (!withheld) post({ type: "withheld", loopSilentMs })
            withheld = true
            return false
          }
          withheld = false
          return true
        },
        stored(sentAt) {
          if (sentAt > Number(Atomics.load(cells, cell.lastOk))) Atomics.store(cells, cell.lastOk, BigInt(sentAt))
        },
      })
      await beats.start()
    } else if (m.type === "drain") {
      await beats?.drain()
    } else {
      await beats?.stop()
      await nats?.nc.drain().catch(() => {})
    }
    post({ type: "done", request: m.type })
  } catch (err) {
    post({ type: "done", request: m.type, error: String(err) })
  }
}
