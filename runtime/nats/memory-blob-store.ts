import { blobDigest, type BlobRef, type BlobStore } from "./blob-store.ts"

/**
 * The in-memory twin of the object store (blob-store.ts): unique names, one revision counter
 * (a put or delete advances it, as meta writes and purges advance the OBJ_ stream), digests of
 * the bytes read, and deletes that leave nothing behind.
 */
export class MemoryBlobStore implements BlobStore {
  private seq = 0
  private ids = 0
  private readonly blobs = new Map<string, { bytes: Uint8Array; revision: number }>()

  async put(prefix: string, bytes: Uint8Array): Promise<BlobRef> {
    const name = `${prefix}${(++this.ids).toString(36).padStart(8, "0")}`
    this.seq += 2 // a chunk and the meta entry
    this.blobs.set(name, { bytes: bytes.slice(), revision: this.seq })
    return { name, size: bytes.length, digest: blobDigest(bytes) }
  }

  async get(name: string) {
    const b = this.blobs.get(name)
    return b ? { bytes: b.bytes.slice(), digest: blobDigest(b.bytes) } : undefined
  }

  async delete(name: string): Promise<void> {
    if (this.blobs.delete(name)) this.seq++
  }

  async list(prefix: string): Promise<string[]> {
    return [...this.blobs.keys()].filter((n) => n.startsWith(prefix))
  }

  async revision(name: string): Promise<number | undefined> {
    return this.blobs.get(name)?.revision
  }

  async lastRevision(): Promise<number> {
    return this.seq
  }
}
