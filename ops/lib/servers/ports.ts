/** A free TCP port on 127.0.0.1 (asked from the kernel; released before it is returned). */
export const freePort = (): number => {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } })
  const port = s.port
  s.stop(true)
  return port
}
