/**
 * The reference paper's storage capacity model: a fleet that starts with `devices` and adds
 * `growthPerMonth` each month, each sending `rate` readings/s for `hours` a day, stored with
 * `replicas` copies at `bytesPerRow` each; disks are sized so data fills at most `fill` of them.
 */
import { table } from "./table.ts"

export interface CapacityInput {
  readonly devices: number
  readonly growthPerMonth: number
  /** Readings per second per device. */
  readonly rate: number
  /** Operating hours per day. */
  readonly hours: number
  readonly replicas: number
  readonly years: number
  /** Bytes one stored reading takes on disk (compressed, rollup included). */
  readonly bytesPerRow: number
  /** Fill ceiling (0.75 = plan disks so data uses at most 75 %). */
  readonly fill: number
  /** History kept, days (0 = everything is kept, the paper's assumption). */
  readonly retentionDays: number
}

/** One year of the projection. */
export interface CapacityYear {
  readonly year: number
  /** Devices at the end of the year. */
  readonly devices: number
  /** Fleet readings/s while operating, at the end of the year. */
  readonly readingsPerSec: number
  /** Readings stored during the year. */
  readonly rows: number
  /** Bytes written during the year, all replicas. */
  readonly bytesAdded: number
  /** Bytes held at the end of the year, all replicas (after retention). */
  readonly bytesStored: number
  /** Disk to provision so the data stays under the fill ceiling. */
  readonly diskNeeded: number
}

const daysPerMonth = 365.25 / 12

/** Projects storage month by month and reports each year's end. Pure. */
export const projectCapacity = (i: CapacityInput): CapacityYear[] => {
  const out: CapacityYear[] = []
  const monthly: number[] = [] // bytes written per month, all replicas
  const keepMonths = i.retentionDays > 0 ? i.retentionDays / daysPerMonth : Infinity
  let rowsYear = 0
  let bytesYear = 0
  for (let m = 0; m < i.years * 12; m++) {
    // Devices grow linearly: the month's average fleet is start + growth × (m + ½).
    const devices = i.devices + i.growthPerMonth * (m + 0.5)
    const rows = devices * i.rate * 3600 * i.hours * daysPerMonth
    const bytes = rows * i.bytesPerRow * i.replicas
    monthly.push(bytes)
    rowsYear += rows
    bytesYear += bytes
    if ((m + 1) % 12 === 0) {
      // Months wholly inside the retention window, plus the fraction of the oldest one.
      let stored = 0
      let left = keepMonths
      for (let k = monthly.length - 1; k >= 0 && left > 0; k--, left--) stored += monthly[k]! * Math.min(1, left)
      const endDevices = i.devices + i.growthPerMonth * (m + 1)
      out.push({
        year: (m + 1) / 12, devices: endDevices, readingsPerSec: endDevices * i.rate, rows: rowsYear, bytesAdded: bytesYear,
        bytesStored: stored, diskNeeded: stored / i.fill,
      })
      rowsYear = 0
      bytesYear = 0
    }
  }
  return out
}

/** Bytes as B, KB, MB, GB, TB, PB (powers of 1000, like disk vendors). */
export const formatBytes = (b: number): string => {
  const units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"]
  let u = 0
  while (b >= 1000 && u < units.length - 1) {
    b /= 1000
    u++
  }
  return `${b >= 100 ? b.toFixed(0) : b >= 10 ? b.toFixed(1) : b.toFixed(2)} ${units[u]}`
}

/** The projection as an aligned text table. */
export const capacityTable = (years: ReadonlyArray<CapacityYear>): string => {
  const head = ["year", "devices", "readings/s", "rows added", "data added", "data stored", "disk needed"]
  const rows = years.map((y) => [
    String(y.year), Math.round(y.devices).toLocaleString("en-US"), Math.round(y.readingsPerSec).toLocaleString("en-US"),
    `${(y.rows / 1e9).toFixed(2)} G`, formatBytes(y.bytesAdded), formatBytes(y.bytesStored), formatBytes(y.diskNeeded),
  ])
  return table(head, rows, { right: [1, 2, 3, 4, 5, 6] })
}

/** Horizontal bars of the disk needed per year. */
export const capacityChart = (years: ReadonlyArray<CapacityYear>, width = 50): string => {
  const max = Math.max(...years.map((y) => y.diskNeeded), 1)
  return years.map((y) => {
    const n = Math.max(y.diskNeeded > 0 ? 1 : 0, Math.round((y.diskNeeded / max) * width))
    return `year ${String(y.year).padStart(2)} |${"#".repeat(n).padEnd(width)}| ${formatBytes(y.diskNeeded)}`
  }).join("\n")
}
