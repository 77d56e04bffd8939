/**
 * One simulated device's mTLS connection, the way a real device should behave: it keeps every
 * reading until the gateway answers `ACK <seq>` (covering all earlier seqs), resends all
 * unacknowledged readings after a reconnect, fails over to the next gateway address when a
 * connection breaks, and respects TCP back-pressure (bytes the socket does not take now are
 * queued and written on `drain`). Many links share one process and one event loop.
 */
import type { Socket } from "bun"

export interface LinkTls {
  readonly ca: Uint8Array | string
  readonly cert: Uint8Array | string
  readonly key: Uint8Array | string
}

export interface Address {
  readonly host: string
  readonly port: number
}

/** Counters of a fleet, shared by its links. */
export interface LinkStats {
  sent: number
  acked: number
  resent: number
  rejected: number
  reconnects: number
  errors_by_code: Record<string, number>
  /** Ack latency histogram: bucket i = [1.1^(i-1), 1.1^i) ms (bucket 0 = below 1 ms). */
  latency: Uint32Array
}

export const newLinkStats = (): LinkStats => ({ sent: 0, acked: 0, resent: 0, rejected: 0, reconnects: 0, errors_by_code: {}, latency: new Uint32Array(200) })

const LOG_STEP = Math.log(1.1)
const bucketOf = (ms: number) => (ms < 1 ? 0 : Math.min(199, 1 + Math.floor(Math.log(ms) / LOG_STEP)))

/** The `q` quantile (0..1) of the latency histogram, in ms (bucket upper bound). */
export const latencyQuantile = (h: Uint32Array, q: number): number => {
  let total = 0
  for (const c of h) total += c
  if (total === 0) return NaN
  let seen = 0
  for (let i = 0; i < h.length; i++) {
    seen += h[i]!
    if (seen >= q * total) return i === 0 ? 1 : Math.round(1.1 ** i * 10) / 10
  }
  return Infinity
}

const readingCodes = new Set(["too_large", "bad_utf8", "bad_json", "bad_csv", "bad_msgpack", "bad_seq", "bad_ts", "ts_skew", "unknown_field", "bad_value", "out_of_range", "id_mismatch", "seq_regress"])

export class DeviceLink {
  /** Unacknowledged readings, oldest first (seq order). */
  private seqs: number[] = []
  private frames: Uint8Array[] = []
  private sentAt: number[] = []
  private head = 0
  private socket: Socket<undefined> | undefined
  private connecting = false
  private queue: Uint8Array[] = []
  private addrIndex: number
  private stopped = false
  private everConnected = false
  private partial = ""
  /** Index (into the arrays) of the first reading never written to any socket. */
  private unwritten = 0
  /** Highest acked seq. */
  lastAck = -1
  /** Seqs the gateway refused (final, never resent), for checks that compare sets. */
  readonly rejectedSeqs: number[] = []

  constructor(
    readonly device: string,
    private readonly addresses: ReadonlyArray<Address>,
    private readonly tls: LinkTls,
    private readonly stats: LinkStats,
    private readonly log: (line: string) => void = () => {},
    firstAddress = 0,
  ) {
    this.addrIndex = firstAddress % addresses.length
  }

  get unacked(): number {
    return this.seqs.length - this.head
  }

  get connected(): boolean {
    return this.socket !== undefined
  }

  /** Opens the connection (and keeps reopening it until `close()`). */
  connect(): void {
    if (this.stopped || this.connecting || this.socket) return
    this.connecting = true
    const addr = this.addresses[this.addrIndex]!
    const self = this
    Bun.connect<undefined>({
      hostname: addr.host,
      port: addr.port,
      tls: { ca: this.tls.ca, cert: this.tls.cert, key: this.tls.key, serverName: "localhost" } as never,
      socket: {
        handshake(s, ok, err) {
          if (!ok) {
            self.log(`${self.device}: TLS handshake with ${addr.host}:${addr.port} failed: ${err?.message}`)
            s.end()
            return
          }
          self.connecting = false
          self.socket = s
          if (self.everConnected) self.stats.reconnects++
          self.everConnected = true
          self.resendAll()
        },
        data(_s, chunk) {
          self.onData(chunk)
        },
        drain(s) {
          self.flush(s)
        },
        close() {
          self.dropped()
        },
        error() {},
        connectError() {
          self.dropped()
        },
      },
    }).catch(() => self.dropped())
  }

  /** Records and sends one reading. */
  send(seq: number, frame: Uint8Array, now: number): void {
    this.seqs.push(seq)
    this.frames.push(frame)
    this.sentAt.push(now)
    this.stats.sent++
    if (this.socket) {
      this.unwritten = this.seqs.length
      this.write(this.socket, frame)
    }
  }

  /** Records several readings and writes them in one go (one TLS record instead of many). */
  sendMany(seqs: ReadonlyArray<number>, frames: ReadonlyArray<Uint8Array>, now: number): void {
    let total = 0
    for (let i = 0; i < seqs.length; i++) {
      this.seqs.push(seqs[i]!)
      this.frames.push(frames[i]!)
      this.sentAt.push(now)
      total += frames[i]!.length
    }
    this.stats.sent += seqs.length
    if (!this.socket) return
    this.unwritten = this.seqs.length
    if (frames.length === 1) return this.write(this.socket, frames[0]!)
    const buf = new Uint8Array(total)
    let o = 0
    for (const f of frames) {
      buf.set(f, o)
      o += f.length
    }
    this.write(this.socket, buf)
  }

  /** Closes for good. */
  close(): void {
    this.stopped = true
    this.socket?.end()
  }

  private dropped(): void {
    const wasUp = this.socket !== undefined || this.connecting
    this.socket = undefined
    this.connecting = false
    this.queue = []
    this.partial = ""
    if (this.stopped || !wasUp) return
    this.addrIndex = (this.addrIndex + 1) % this.addresses.length
    setTimeout(() => this.connect(), 100 + Math.random() * 200)
  }

  /** After (re)connecting: writes every unacknowledged reading; those written before count as resent. */
  private resendAll(): void {
    const s = this.socket!
    const now = performance.now()
    for (let i = this.head; i < this.seqs.length; i++) {
      if (this.seqs[i]! < 0) continue
      if (i < this.unwritten) this.stats.resent++
      else this.sentAt[i] = now // latency counts from the first write, not from generation
      this.write(s, this.frames[i]!)
    }
    this.unwritten = this.seqs.length
  }

  private write(s: Socket<undefined>, frame: Uint8Array): void {
    if (this.queue.length > 0) {
      this.queue.push(frame)
      return
    }
    const n = s.write(frame)
    if (n < frame.length) this.queue.push(frame.subarray(Math.max(0, n)))
  }

  private flush(s: Socket<undefined>): void {
    while (this.queue.length > 0) {
      const f = this.queue[0]!
      const n = s.write(f)
      if (n < f.length) {
        this.queue[0] = f.subarray(Math.max(0, n))
        return
      }
      this.queue.shift()
    }
  }

  private onData(chunk: Uint8Array): void {
    const text = this.partial + Buffer.from(chunk).toString("latin1")
    let start = 0
    for (;;) {
      const nl = text.indexOf("\n", start)
      if (nl < 0) break
      this.onLine(text.slice(start, nl))
      start = nl + 1
    }
    this.partial = text.slice(start)
  }

  private onLine(line: string): void {
    if (line.startsWith("ACK ")) return this.acked(Number(line.slice(4)))
    if (!line.startsWith("ERR ")) return
    const sp = line.indexOf(" ", 4)
    const code = line.slice(4, sp < 0 ? undefined : sp)
    this.stats.errors_by_code[code] = (this.stats.errors_by_code[code] ?? 0) + 1
    if (!readingCodes.has(code)) return
    const m = /seq=(\d+)/.exec(line)
    if (!m) {
      this.stats.rejected++
      return
    }
    // A refused reading is final: forget it so it is not resent.
    const seq = Number(m[1])
    for (let i = this.head; i < this.seqs.length; i++) {
      if (this.seqs[i] === seq) {
        this.seqs[i] = -1
        this.rejectedSeqs.push(seq)
        this.stats.rejected++
        break
      }
    }
  }

  private acked(seq: number): void {
    if (!(seq > this.lastAck)) return
    this.lastAck = seq
    const now = performance.now()
    const lat = this.stats.latency
    while (this.head < this.seqs.length && this.seqs[this.head]! <= seq) {
      if (this.seqs[this.head]! >= 0) {
        this.stats.acked++
        lat[bucketOf(now - this.sentAt[this.head]!)]!++
      }
      this.head++
    }
    if (this.head > 4096) {
      this.seqs = this.seqs.slice(this.head)
      this.frames = this.frames.slice(this.head)
      this.sentAt = this.sentAt.slice(this.head)
      this.unwritten = Math.max(0, this.unwritten - this.head)
      this.head = 0
    }
  }
}
