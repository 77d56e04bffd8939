/**
 * One process of the scale bench's simulated fleet: `bun sim.ts <config.json>`. Each device holds
 * one real mTLS connection to a gateway, sends a reading when it connects (its actor activates)
 * and then its share of a fixed total rate; a closed connection is reopened after a jittered,
 * doubling backoff (250 ms … 5 s), as devices do. At most `concurrency` handshakes are in flight.
 * Prints a JSON line of counters every 500 ms. Sending pauses while the file `<config.json>.pause`
 * exists (signals are no good here: Bun takes SIGUSR1 for its inspector).
 */
import type { Socket } from "bun"
import { existsSync, readFileSync } from "node:fs"
import { loadDeviceSchema } from "../../../config/device-schema.ts"
import { csvLine } from "../../../gateway/encode.ts"
import { BusSignals } from "../../loadgen/signals.ts"

export interface SimConfig {
  readonly ids: string[]
  readonly certs: string[]
  readonly keyPem: string
  readonly caPem: string
  readonly addresses: Array<{ host: string; port: number }>
  /** Readings per second this process sends in all (spread over its connected devices). */
  readonly ratePerS: number
  readonly concurrency: number
  /** Loopback source addresses the devices connect from, round-robin (a gateway caps handshakes per source). */
  readonly sources?: string[]
}

const cfg = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as SimConfig
const schema = loadDeviceSchema()
const width = schema.fields.length
// Plausible values of a bus in normal service (mid-range constants tripped rules, and rules with
// open alerts keep their actors live).
const signals = new BusSignals(schema, process.pid)
const row = new Float64Array(width)
const n = cfg.ids.length
const sockets: Array<Socket<undefined> | undefined> = new Array(n)
const seqs = new Float64Array(n)
const backoff = new Float64Array(n).fill(250)
const counters = { connected: 0, handshakes: 0, failed: 0, closed: 0, sent: 0, connecting: 0, handshake_timeouts: 0, attempts: 0 }
const handshakeTimeoutS = 10
const queue: number[] = []
const pauseFile = `${process.argv[2]!}.pause`
let paused = existsSync(pauseFile)
setInterval(() => (paused = existsSync(pauseFile)), 200)

const send = (d: number) => {
  const s = sockets[d]
  if (!s) return
  seqs[d]!++
  signals.next(1, row)
  s.write(csvLine(cfg.ids[d]!, seqs[d]!, Date.now(), row, width))
  counters.sent++
}

const retry = (d: number) => {
  const wait = backoff[d]! * (0.5 + Math.random())
  backoff[d] = Math.min(backoff[d]! * 2, 5_000)
  setTimeout(() => { queue.push(d); pump() }, wait)
}

/** The newest connection attempt of each device: an older attempt's events change nothing. */
const attempts = new Uint32Array(n)

const open = (d: number) => {
  const addr = cfg.addresses[d % cfg.addresses.length]!
  const mine = ++attempts[d]!
  counters.connecting++
  counters.attempts++
  let settled = false
  const done = () => {
    if (!settled) { settled = true; counters.connecting--; pump() }
  }
  // One retry per attempt, and only from the newest: connectError and the rejected promise (or
  // a close after a failed handshake) must not start two connections of one device, which the
  // gateway then replaces one by the other, each replaced one retrying in turn.
  let retried = false
  const again = () => {
    if (!retried && attempts[d] === mine) { retried = true; retry(d) }
  }
  Bun.connect<undefined>({
    hostname: addr.host, port: addr.port,
    ...(cfg.sources?.length ? { localAddress: cfg.sources[d % cfg.sources.length] } : {}),
    tls: { ca: cfg.caPem, cert: cfg.certs[d]!, key: cfg.keyPem, serverName: "localhost" } as never,
    socket: {
      // A device gives up on a TLS handshake that has not finished in 10 s and connects again: in
      // the reconnect storm a few hundred handshakes were left hanging (TCP up, no TLS answer),
      // each holding one of the simulator's connect slots for good.
      open(s) {
        s.timeout(handshakeTimeoutS)
      },
      timeout(s) {
        if (sockets[d] === s) return
        counters.handshake_timeouts++
        s.terminate()
      },
      handshake(s, ok) {
        done()
        if (!ok) { counters.failed++; s.end(); return }
        if (attempts[d] !== mine) { s.terminate(); return }
        s.timeout(0)
        sockets[d] = s
        counters.connected++
        counters.handshakes++
        backoff[d] = 250
        if (!paused) send(d)
      },
      data() {},
      close(s) {
        done()
        if (sockets[d] === s) { sockets[d] = undefined; counters.connected--; counters.closed++ }
        again()
      },
      error() {},
      connectError() {
        done()
        counters.failed++
        again()
      },
    },
  }).catch(() => { done(); counters.failed++; again() })
}

const pump = () => {
  while (counters.connecting < cfg.concurrency && queue.length > 0) open(queue.shift()!)
}

for (let d = 0; d < n; d++) queue.push(d)
pump()

// The fixed total rate, 10 ticks a second, round-robin over the devices.
let next = 0
let carry = 0
setInterval(() => {
  if (paused) return
  carry += cfg.ratePerS / 10
  for (; carry >= 1; carry--) {
    for (let k = 0; k < n; k++) {
      const d = next++ % n
      if (sockets[d]) { send(d); break }
    }
  }
}, 100)
setInterval(() => console.log(JSON.stringify({ t: Date.now(), ...counters })), 500)
// Exits on SIGTERM (as benchmarks stop profiled processes), so that `bun --cpu-prof` writes its profile.
process.on("SIGTERM", () => process.exit(0))
