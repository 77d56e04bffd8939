import type { Clock } from "../clock.ts"
import { NoAnswer } from "../errors.ts"
import { subjectMatches } from "./memory-queue.ts"
import type { Bus, BusMsg } from "./ports.ts"

/**
 * The in-memory twin of core NATS: a message reaches every subscription whose subject matches,
 * asynchronously (a microtask later, as a socket would); a request gets a `_INBOX.` reply
 * subject, fails with {@link NoAnswer} at once when nobody listens (no responders) or after
 * `timeoutMs` on the injected clock. A queue group gets each message once, its members in turn.
 */
export class MemoryBus implements Bus {
  private readonly subs = new Set<{ subject: string; handler: (m: BusMsg) => void; queue?: string | undefined }>()
  /** Round-robin position per queue group. */
  private readonly turns = new Map<string, number>()
  private inbox = 0

  constructor(private readonly clock: Clock) {}

  subscribe(subject: string, handler: (m: BusMsg) => void, opts?: { readonly queue?: string }): { unsubscribe(): void } {
    const s = { subject, handler, queue: opts?.queue }
    this.subs.add(s)
    return { unsubscribe: () => void this.subs.delete(s) }
  }

  publish(subject: string, data: Uint8Array = new Uint8Array(0)): void {
    this.deliver(subject, undefined, data)
  }

  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (![...this.subs].some((s) => subjectMatches(s.subject, subject))) return Promise.reject(new NoAnswer({ subject }))
    const reply = `_INBOX.mem.${++this.inbox}`
    return new Promise((resolve, reject) => {
      const sub = this.subscribe(reply, (m) => {
        cancel()
        sub.unsubscribe()
        resolve(m.data)
      })
      const cancel = this.clock.after(timeoutMs, () => {
        sub.unsubscribe()
        reject(new NoAnswer({ subject }))
      })
      this.deliver(subject, reply, data)
    })
  }

  private deliver(subject: string, reply: string | undefined, data: Uint8Array): void {
    const matching = [...this.subs].filter((s) => subjectMatches(s.subject, subject))
    // every plain subscriber, and one member of each queue group (in turn)
    const targets = matching.filter((s) => s.queue === undefined)
    for (const q of new Set(matching.flatMap((s) => (s.queue === undefined ? [] : [s.queue])))) {
      const members = matching.filter((s) => s.queue === q)
      const turn = this.turns.get(q) ?? 0
      this.turns.set(q, turn + 1)
      targets.push(members[turn % members.length]!)
    }
    queueMicrotask(() => {
      for (const s of targets) {
        s.handler({
          subject, reply, data,
          respond: (answer) => {
            if (reply === undefined) return false
            this.publish(reply, answer)
            return true
          },
        })
      }
    })
  }
}
