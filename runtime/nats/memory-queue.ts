/**
 * The async iterator under the in-memory twins' watches and feeds: values pushed by the twin are
 * read in order by one consumer; `end()` finishes iteration once what was pushed has been read.
 */
export class Feed<T> implements AsyncIterable<T> {
  private readonly items: T[] = []
  private waiting: ((r: IteratorResult<T>) => void) | undefined
  private ended = false

  push(v: T): void {
    if (this.ended) return
    const w = this.waiting
    if (w) {
      this.waiting = undefined
      w({ value: v, done: false })
    } else this.items.push(v)
  }

  end(): void {
    this.ended = true
    this.items.length = 0
    const w = this.waiting
    this.waiting = undefined
    w?.({ value: undefined, done: true })
  }

  get closed(): boolean {
    return this.ended
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.items.length) return Promise.resolve({ value: this.items.shift()!, done: false })
        if (this.ended) return Promise.resolve({ value: undefined, done: true })
        return new Promise((r) => (this.waiting = r))
      },
      return: () => {
        this.end()
        return Promise.resolve({ value: undefined, done: true })
      },
    }
  }
}

/** NATS subject matching: `*` is one token, `>` one or more trailing tokens. */
export const subjectMatches = (pattern: string, subject: string): boolean => {
  if (pattern === subject) return true
  const p = pattern.split(".")
  const s = subject.split(".")
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i
    if (i >= s.length) return false
    if (p[i] !== "*" && p[i] !== s[i]) return false
  }
  return p.length === s.length
}
