/**
 * The IO shell of device ingress: a `Bun.listen` mTLS listener feeding {@link DeviceConnection}s
 * and one {@link Ingest}. Responsibilities, in order of a connection's life:
 * accept (connection cap, cluster lag and handshake rates, {@link Admission}) → handshake within its deadline →
 * classify the client certificate (refuse + count + log with peer address) → replace an older
 * connection of the same device → first frame within its deadline → read frames (paused under
 * back-pressure or rate limit, closed after `idleTimeoutMs` of silence otherwise) → write ACK/ERR
 * lines (buffered while the socket is full; a device that does not read its acks is dropped) → close.
 * Deadlines are checked by one sweep timer on the gateway clock, not by Bun's socket timeout
 * (one-shot, 4-s ticks, not re-armed by data).
 */
import type { Socket, TCPSocketListener } from "bun"
import { X509Certificate } from "node:crypto"
import type { DeviceSchema } from "../config/device-schema.ts"
import type { Clock } from "../runtime/clock.ts"
import { shardOf } from "../runtime/shard.ts"
import { Admission, type AdmissionLimits } from "./admission.ts"
import { ErrCode } from "./codes.ts"
import { DeviceConnection, type ConnectionContext } from "./connection.ts"
import { crlGauges, CrlWatch, watchCrl } from "./crl.ts"
import { watchDeadlines } from "./deadlines.ts"
import { Ingest, type IngestOptions } from "./ingest.ts"
import { bump, type GatewayMetrics } from "./metrics.ts"
import { RateBudgets } from "./rate.ts"
import { classifyPeer } from "./tls-auth.ts"

/** Everything the listener needs; built by `startGateway` from config. */
export interface ListenerOptions {
  readonly host: string
  readonly port: number
  /** `caFile` (the CA's path) checks the CRL's signature; the CRL is watched even when absent at start. */
  readonly tls: { readonly cert: string; readonly key: string; readonly ca: string; readonly crlFile: string | undefined; readonly caFile?: string }
  readonly schema: DeviceSchema
  readonly partitions: number
  readonly limits: ConnectionContext["limits"] & AdmissionLimits
  readonly ingest: Omit<IngestOptions, "onPressure" | "metrics" | "clock" | "partitions" | "width" | "schemaVersion">
  readonly crlReloadMs: number
  /** Is the cluster too far behind to admit new devices now (gateway/cluster-lag.ts)? Default: never. */
  readonly lagging?: ((now: number) => boolean) | undefined
  readonly metrics: GatewayMetrics
  /** Time and every timer of the listener (sweep, batch flushes, throttles, CRL checks). */
  readonly clock: Clock
  log(line: string): void
}

interface SocketData {
  conn: DeviceConnection | undefined
  serial: string
  outbox: string
  throttledUntil: number
  peer: string
  /** Refused at accept or dropped at the handshake deadline: nothing more is done for it. */
  dropped: boolean
}

/** Max bytes of ACK/ERR lines waiting for a device that does not read them. */
const MAX_OUTBOX = 1 << 20

export interface Listener {
  readonly port: number
  readonly ingest: Ingest
  /** Open device connections by id. */
  readonly devices: ReadonlyMap<string, unknown>
  /** Stops accepting, closes connections with `ERR shutdown`, waits for the in-flight batches. */
  stop(opts?: { drainMs?: number }): Promise<void>
}

export const listen = async (o: ListenerOptions): Promise<Listener> => {
  const ca = new X509Certificate(o.tls.ca)
  const crl = new CrlWatch(o.tls.crlFile, o.tls.caFile)
  await crl.check()
  crlGauges(crl, o.metrics, o.clock.now())
  if (o.tls.crlFile && !crl.loaded) o.log(`gateway: no CRL at ${o.tls.crlFile} yet: nothing is revoked until it appears (checked every ${o.crlReloadMs} ms)`)
  const devices = new Map<string, Socket<SocketData>>()
  const m = o.metrics
  const admission = new Admission<Socket<SocketData>>(o.limits, o.lagging)
  const budgets = new RateBudgets(o.limits.maxReadingsPerSec)

  const setPaused = (s: Socket<SocketData>, pausedByPressure: boolean) => {
    const throttled = s.data.throttledUntil > o.clock.now() || s.data.conn?.isThrottled === true
    // A device blocked by our back-pressure or rate limit is not idle.
    admission.hold(s, pausedByPressure || throttled, o.clock.now())
    if (pausedByPressure || throttled) s.pause()
    else s.resume()
  }

  const ingest = new Ingest({
    ...o.ingest,
    partitions: o.partitions,
    width: o.schema.fields.length,
    schemaVersion: o.schema.version,
    metrics: m,
    clock: o.clock,
    onPressure: (paused) => {
      if (paused) o.log(`gateway: back-pressure on (${ingest.buffered} readings awaiting JetStream); pausing ${devices.size} sockets`)
      else o.log("gateway: back-pressure off; resuming sockets")
      for (const s of devices.values()) setPaused(s, paused)
    },
  })

  const ctx: ConnectionContext = {
    schema: o.schema, limits: o.limits, ingest, budgets, metrics: m, clock: o.clock, log: o.log,
    partitionsShard: (d) => shardOf(d, o.partitions),
  }

  const flushOutbox = (s: Socket<SocketData>) => {
    const d = s.data
    if (!d.outbox) return
    const n = s.write(d.outbox)
    d.outbox = n >= d.outbox.length ? "" : d.outbox.slice(Math.max(0, n))
  }

  const wireFor = (s: Socket<SocketData>) => ({
    write(text: string) {
      const d = s.data
      if (d.outbox) {
        d.outbox += text
        if (d.outbox.length > MAX_OUTBOX) {
          m.connections_closed_slow_reader++
          o.log(`gateway: ${d.conn?.device} (${d.peer}) does not read its acks; closing`)
          d.conn?.gone()
          s.end()
        }
        return
      }
      const n = s.write(text)
      if (n < text.length) d.outbox = text.slice(Math.max(0, n))
    },
    throttle(ms: number, resume: () => void) {
      s.data.throttledUntil = o.clock.now() + ms
      admission.hold(s, true, o.clock.now())
      s.pause()
      o.clock.after(ms, () => {
        s.data.throttledUntil = 0
        if (!s.data.conn || s.data.conn.isClosed) return
        resume()
        setPaused(s, ingest.isPaused)
      })
    },
    close() {
      flushOutbox(s)
      s.end()
    },
  })

  const server: TCPSocketListener<SocketData> = Bun.listen<SocketData>({
    hostname: o.host,
    port: o.port,
    // No `crl` here: revocation is checked by serial in classifyPeer (gateway/crl.ts says why).
    tls: { cert: o.tls.cert, key: o.tls.key, ca: o.tls.ca, requestCert: true, rejectUnauthorized: false },
    socket: {
      open(s) {
        s.data = { conn: undefined, serial: "", outbox: "", throttledUntil: 0, peer: `${s.remoteAddress}:${s.remotePort}`, dropped: false }
        const refused = admission.admit(s, s.remoteAddress, o.clock.now())
        if (refused) {
          s.data.dropped = true
          // Before any TLS work: nothing is read from or written to this peer.
          refusals.note(refused, s.remoteAddress)
          s.terminate()
        }
      },
      handshake(s, _ok, authError) {
        // Bun reports a failed handshake for a socket we terminated before it finished.
        if (s.data.dropped) return
        let peer: X509Certificate | undefined
        try {
          peer = s.getPeerX509Certificate() ?? undefined
        } catch {
          peer = undefined
        }
        admission.handshaken(s, o.clock.now())
        const v = classifyPeer(authError as (Error & { code?: string }) | null, peer, ca, crl.serials)
        if (!v.ok) {
          bump(m.tls_refused_by_reason, v.reason)
          refusals.logTls(`gateway: refused TLS client ${s.data.peer}: ${v.reason}: ${v.detail}`)
          s.end()
          return
        }
        const old = devices.get(v.device)
        if (old) {
          m.connections_replaced++
          o.log(`gateway: ${v.device} reconnected from ${s.data.peer}; closing its older connection from ${old.data.peer}`)
          old.data.conn?.close(ErrCode.replaced, "a newer connection of this device took over")
        }
        s.data.serial = v.serial
        s.data.conn = new DeviceConnection(v.device, s.data.peer, ctx, wireFor(s))
        devices.set(v.device, s)
        m.connections_accepted++
        m.connections_open++
        if (ingest.isPaused) setPaused(s, true)
      },
      data(s, chunk) {
        const c = s.data.conn
        if (!c) return
        c.onData(chunk)
        admission.seen(s, o.clock.now(), c.framesSeen > 0)
      },
      drain(s) {
        flushOutbox(s)
      },
      close(s) {
        admission.remove(s)
        const c = s.data?.conn
        if (!c) return
        c.gone()
        m.connections_open--
        if (devices.get(c.device) === s) devices.delete(c.device)
      },
      error(s, e) {
        o.log(`gateway: socket error from ${s.data?.peer}: ${e.message}`)
      },
    },
  })

  /**
   * Refusals at accept: counted each, logged at most once per second as a summary. Refused TLS
   * clients: the first 20 of a second logged one by one (with peer and reason), the rest summed.
   */
  const refusals = {
    pending: new Map<string, number>(),
    byReason: new Map<string, number>(),
    tlsLogged: 0,
    tlsSuppressed: 0,
    logTls(line: string) {
      if (this.tlsLogged++ < 20) o.log(line)
      else this.tlsSuppressed++
    },
    note(reason: string, address: string) {
      bump(m.connections_refused_by_reason, reason)
      const key = `${reason} from ${address}`
      this.pending.set(key, (this.pending.get(key) ?? 0) + 1)
      this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1)
    },
    flush() {
      if (this.tlsSuppressed > 0) o.log(`gateway: ${this.tlsSuppressed} more TLS clients refused in the last second (counted in tls_refused_by_reason)`)
      this.tlsLogged = 0
      this.tlsSuppressed = 0
      if (this.pending.size === 0) return
      const totals = [...this.byReason].map(([r, n]) => `${r} ${n}`).join(", ")
      const parts = [...this.pending].slice(0, 10).map(([k, n]) => `${n} ${k}`)
      o.log(`gateway: refused new connections in the last second (${totals}): ${parts.join(", ")}${this.pending.size > 10 ? ", ..." : ""}`)
      this.pending.clear()
      this.byReason.clear()
    },
  }
  const expired = new Map<string, number>()
  let lastReport = o.clock.now()
  const stopSweep = watchDeadlines(o.clock, admission, (s, why) => {
    const c = s.data.conn
    if (why === "idle_timeout") {
      m.connections_closed_idle++
      c?.close(ErrCode.idleTimeout, `no data for ${o.limits.idleTimeoutMs} ms; closing`)
    } else {
      bump(m.connections_refused_by_reason, why)
      expired.set(why, (expired.get(why) ?? 0) + 1)
      if (c) c.close(ErrCode.idleTimeout, `no frame within ${o.limits.firstFrameTimeoutMs} ms of connecting; closing`)
      else {
        s.data.dropped = true
        s.terminate()
      }
    }
  }, (now) => {
    budgets.prune(now)
    if (now - lastReport >= 1000) {
      lastReport = now
      refusals.flush()
      if (expired.size > 0) {
        o.log(`gateway: closed connections past their deadline in the last second: ${[...expired].map(([k, n]) => `${n} ${k}`).join(", ")}`)
        expired.clear()
      }
    }
  })

  const stopCrl = watchCrl(crl, {
    everyMs: o.crlReloadMs, metrics: m, clock: o.clock, log: o.log,
    onChange(revoked) {
      for (const s of devices.values()) {
        if (revoked.has(s.data.serial)) {
          bump(m.tls_refused_by_reason, "revoked")
          s.data.conn?.close(ErrCode.shutdown, "certificate revoked")
        }
      }
    },
  })

  return {
    port: server.port,
    ingest,
    devices,
    async stop({ drainMs = 5000 } = {}) {
      server.stop(false)
      stopCrl()
      stopSweep()
      for (const s of devices.values()) s.data.conn?.close(ErrCode.shutdown, "gateway shutting down")
      await Promise.race([ingest.drain(), o.clock.sleep(drainMs)])
      server.stop(true)
    },
  }
}
