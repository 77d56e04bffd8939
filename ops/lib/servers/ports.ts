import { readFileSync } from "node:fs"

/**
 * The lowest local port of the kernel's range for outgoing connections (Linux default 32768), read
 * once per process.
 */
const ephemeralLo = ((): number => {
  try {
    const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number)
    if (lo! > 0 && hi! >= lo!) return lo!
  } catch {}
  return 32768
})()

const handedOut = new Set<number>()

/** Whether `port` can be listened on at 127.0.0.1 now. */
const bindable = (port: number): boolean => {
  try {
    Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true)
    return true
  } catch {
    return false
  }
}

/**
 * A free TCP port on 127.0.0.1 for a server started later. Picked below the kernel's ephemeral
 * range when there is room: a port from that range (what binding to port 0 gives) can be taken by
 * any outgoing connection between this check and the server's bind, seconds later. Never the same
 * port twice in one process.
 */
export const freePort = (): number => {
  const lo = 20_000
  const hi = Math.min(ephemeralLo - 1, 65_535)
  for (let i = 0; hi > lo && i < 200; i++) {
    const port = lo + Math.floor(Math.random() * (hi - lo + 1))
    if (handedOut.has(port) || !bindable(port)) continue
    handedOut.add(port)
    return port
  }
  for (;;) {
    const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } })
    const port = s.port
    s.stop(true)
    if (!handedOut.has(port)) return handedOut.add(port), port
  }
}
